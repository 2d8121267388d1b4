"""Webhook deliveries as each provider sends them (domain/webhooks.py): signatures checked in full,
delivery ids that make a replay recognisable, and which pushes deploy the git source's branch."""

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from dockyard_kit.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from services.deployer.domain.webhooks import (
    MAX_DELIVERY_ID_CHARS,
    MAX_WEBHOOK_BYTES,
    PROVIDERS,
    Push,
    decide,
    parse,
    signature_headers,
    verify,
)

SECRET = "s3cr3t-webhook-key"
SHA = "9f2c7c1b0e3d4a5b6c7d8e9f0a1b2c3d4e5f6a7b"
BEFORE = "1111111111111111111111111111111111111111"
ZERO = "0" * 40


def github_body(branch: str, sha: str) -> dict:
    return {"ref": f"refs/heads/{branch}", "before": BEFORE, "after": sha, "deleted": sha == ZERO}


def gitlab_body(branch: str, sha: str) -> dict:
    checkout = None if sha == ZERO else sha
    return {
        "object_kind": "push",
        "ref": f"refs/heads/{branch}",
        "before": BEFORE,
        "after": sha,
        "checkout_sha": checkout,
    }


def gitea_body(branch: str, sha: str) -> dict:
    return {"ref": f"refs/heads/{branch}", "before": BEFORE, "after": sha}


def bitbucket_dc_body(branch: str, sha: str) -> dict:
    ref = {"id": f"refs/heads/{branch}", "displayId": branch, "type": "BRANCH"}
    kind = "DELETE" if sha == ZERO else "UPDATE"
    change = {"ref": ref, "refId": ref["id"], "fromHash": BEFORE, "toHash": sha, "type": kind}
    return {"eventKey": "repo:refs_changed", "changes": [change]}


def bitbucket_cloud_body(branch: str, sha: str) -> dict:
    old = {"type": "branch", "name": branch, "target": {"hash": BEFORE}}
    new = None if sha == ZERO else {"type": "branch", "name": branch, "target": {"hash": sha}}
    return {"push": {"changes": [{"old": old, "new": new, "closed": new is None}]}}


@dataclasses.dataclass(frozen=True)
class Flavour:
    provider: str
    signature_header: str
    event_headers: dict[str, str]  # a push
    delivery_header: str
    body: Callable[[str, str], dict]


FLAVOURS = {
    "github": Flavour(
        "github", "X-Hub-Signature-256", {"x-github-event": "push"}, "x-github-delivery", github_body
    ),
    "gitlab": Flavour(
        "gitlab", "X-Gitlab-Token", {"x-gitlab-event": "Push Hook"}, "idempotency-key", gitlab_body
    ),
    "gitea": Flavour("gitea", "X-Gitea-Signature", {"x-gitea-event": "push"}, "x-gitea-delivery", gitea_body),
    "bitbucket-dc": Flavour(
        "bitbucket",
        "X-Hub-Signature",
        {"x-event-key": "repo:refs_changed"},
        "x-request-id",
        bitbucket_dc_body,
    ),
    "bitbucket-cloud": Flavour(
        "bitbucket", "X-Hub-Signature", {"x-event-key": "repo:push"}, "x-request-uuid", bitbucket_cloud_body
    ),
}
flavours = pytest.mark.parametrize("flavour", list(FLAVOURS.values()), ids=list(FLAVOURS))


def delivery(flavour: Flavour, branch: str = "main", sha: str = SHA, delivery_id: str | None = "d-1"):
    """(headers, body) of a signed push, as the gateway hands them to the service."""
    body = json.dumps(flavour.body(branch, sha)).encode()
    headers = {**flavour.event_headers, **signature_headers(flavour.provider, body, SECRET)}
    if delivery_id is not None:
        headers[flavour.delivery_header] = delivery_id
    return headers, body


def received(flavour: Flavour, **kwargs) -> Push:
    headers, body = delivery(flavour, **kwargs)
    verify(flavour.provider, headers, body, SECRET)
    return parse(flavour.provider, headers, body)


# Signatures


def test_github_signature_matches_githubs_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
    headers = signature_headers("github", b"Hello, World!", "It's a Secret to Everybody")
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert headers == {"x-hub-signature-256": expected}
    verify("github", headers, b"Hello, World!", "It's a Secret to Everybody")


def test_each_provider_signs_in_its_own_header() -> None:
    body = b'{"ref": "refs/heads/main"}'
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature_headers("github", body, SECRET) == {"x-hub-signature-256": f"sha256={digest}"}
    assert signature_headers("gitlab", body, SECRET) == {"x-gitlab-token": SECRET}
    assert signature_headers("gitea", body, SECRET) == {"x-gitea-signature": digest}
    assert signature_headers("bitbucket", body, SECRET) == {"x-hub-signature": f"sha256={digest}"}


@flavours
def test_a_correctly_signed_delivery_is_accepted(flavour: Flavour) -> None:
    headers, body = delivery(flavour)
    verify(flavour.provider, headers, body, SECRET)


@flavours
def test_a_signature_with_another_secret_is_refused(flavour: Flavour) -> None:
    headers, body = delivery(flavour)
    with pytest.raises(Unauthenticated) as raised:
        verify(flavour.provider, headers, body, "another-secret")
    assert flavour.signature_header in raised.value.message
    assert SECRET not in raised.value.message and "another-secret" not in raised.value.message


@pytest.mark.parametrize(
    "flavour", [f for f in FLAVOURS.values() if f.provider != "gitlab"]
)  # a token signs nothing
def test_a_body_changed_after_signing_is_refused(flavour: Flavour) -> None:
    headers, body = delivery(flavour)
    with pytest.raises(Unauthenticated):
        verify(flavour.provider, headers, body.replace(b"main", b"mainx"), SECRET)


@flavours
def test_a_missing_signature_is_refused_naming_the_header(flavour: Flavour) -> None:
    headers, body = delivery(flavour)
    del headers[flavour.signature_header.lower()]
    with pytest.raises(Unauthenticated) as raised:
        verify(flavour.provider, headers, body, SECRET)
    assert f"missing {flavour.signature_header} header" in raised.value.message
    assert SECRET not in raised.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_without_a_webhook_secret_nothing_is_accepted(provider: str) -> None:
    body = b"{}"
    headers = signature_headers(provider, body, "")  # what anybody can compute
    with pytest.raises(Unauthenticated, match="no webhook secret"):
        verify(provider, headers, body, "")


@pytest.mark.parametrize(
    ("provider", "header"), [("github", "x-hub-signature-256"), ("bitbucket", "x-hub-signature")]
)
def test_a_sha1_signature_is_refused_naming_the_expected_form(provider: str, header: str) -> None:
    body = b"{}"
    sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    with pytest.raises(Unauthenticated, match=r"must be sha256=<hex HMAC-SHA256>"):
        verify(provider, {header: f"sha1={sha1}"}, body, SECRET)


def test_hex_digits_are_accepted_in_upper_case() -> None:
    body = b"{}"
    signed = signature_headers("gitea", body, SECRET)
    verify("gitea", {"x-gitea-signature": signed["x-gitea-signature"].upper()}, body, SECRET)


def test_the_gitlab_token_must_match_exactly() -> None:
    with pytest.raises(Unauthenticated):
        verify("gitlab", {"x-gitlab-token": SECRET.upper()}, b"{}", SECRET)
    with pytest.raises(Unauthenticated):
        verify("gitlab", {"x-gitlab-token": SECRET[:-1]}, b"{}", SECRET)


def test_a_signature_header_that_is_not_ascii_is_refused_not_crashed() -> None:
    with pytest.raises(Unauthenticated):
        verify("gitea", {"x-gitea-signature": "é" * 64}, b"{}", SECRET)


@pytest.mark.parametrize("call", [verify, parse, signature_headers])
def test_an_unknown_provider_is_invalid_argument_naming_provider(call) -> None:
    args = {
        verify: ("svn", {}, b"{}", SECRET),
        parse: ("svn", {}, b"{}"),
        signature_headers: ("svn", b"{}", SECRET),
    }
    with pytest.raises(InvalidArgument) as raised:
        call(*args[call])
    assert raised.value.field == "provider"
    assert "github, gitlab, gitea, bitbucket" in raised.value.description


# Size


@flavours
def test_a_body_over_the_limit_is_refused_before_anything_else(flavour: Flavour) -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    headers = {**flavour.event_headers, **signature_headers(flavour.provider, body, SECRET)}
    with pytest.raises(ResourceExhausted, match=str(MAX_WEBHOOK_BYTES)):
        verify(flavour.provider, headers, body, SECRET)
    with pytest.raises(ResourceExhausted):
        parse(flavour.provider, headers, body)


def test_a_body_of_exactly_the_limit_is_read() -> None:
    flavour = FLAVOURS["github"]
    document = json.dumps(github_body("main", SHA)).encode()
    body = document + b" " * (MAX_WEBHOOK_BYTES - len(document))
    assert len(body) == MAX_WEBHOOK_BYTES
    headers = {**flavour.event_headers, **signature_headers("github", body, SECRET)}
    verify("github", headers, body, SECRET)
    assert parse("github", headers, body).commit_sha == SHA


# Delivery ids


@flavours
def test_the_providers_delivery_id_identifies_a_replay(flavour: Flavour) -> None:
    first = received(flavour, delivery_id="b2f4-77")
    again = received(flavour, delivery_id="b2f4-77")
    other = received(flavour, delivery_id="b2f4-78")
    assert first.delivery_id == again.delivery_id == "b2f4-77"
    assert other.delivery_id == "b2f4-78"


@flavours
def test_without_a_delivery_id_the_same_body_is_the_same_delivery(flavour: Flavour) -> None:
    first = received(flavour, delivery_id=None)
    again = received(flavour, delivery_id=None)
    other_push = received(flavour, delivery_id=None, sha="ab" * 20)
    assert first.delivery_id == again.delivery_id
    assert first.delivery_id.startswith("sha256:") and len(first.delivery_id) <= MAX_DELIVERY_ID_CHARS
    assert other_push.delivery_id != first.delivery_id


def test_the_body_digest_is_per_provider() -> None:
    body = json.dumps(gitea_body("main", SHA)).encode()
    from_github = parse("github", {"x-github-event": "push"}, body)
    from_gitea = parse("gitea", {"x-gitea-event": "push"}, body)
    assert from_github.delivery_id != from_gitea.delivery_id


def test_gitlab_prefers_the_idempotency_key_that_survives_retries() -> None:
    headers, body = delivery(FLAVOURS["gitlab"], delivery_id="idem-1")
    headers["x-gitlab-event-uuid"] = "event-1"
    assert parse("gitlab", headers, body).delivery_id == "idem-1"
    del headers["idempotency-key"]
    assert parse("gitlab", headers, body).delivery_id == "event-1"


def test_an_overlong_delivery_id_is_digested_to_fit_an_idempotency_key() -> None:
    long_id = "x" * (MAX_DELIVERY_ID_CHARS + 1)
    first = received(FLAVOURS["github"], delivery_id=long_id)
    assert first.delivery_id == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert received(FLAVOURS["github"], delivery_id=long_id).delivery_id == first.delivery_id


# Which pushes deploy


@flavours
def test_a_push_to_the_followed_branch_deploys_its_new_commit(flavour: Flavour) -> None:
    push = received(flavour, branch="main")
    assert (push.branch, push.commit_sha, push.ignored_reason) == ("main", SHA, "")
    assert decide(push, "main") == ""
    assert push.commit_for("main") == SHA


@flavours
def test_a_push_to_another_branch_is_answered_and_deploys_nothing(flavour: Flavour) -> None:
    push = received(flavour, branch="feature/login")
    assert push.branch == "feature/login"
    assert decide(push, "main") == "push to branch feature/login, the git source follows main"
    assert push.commit_for("main") is None


@flavours
def test_deleting_the_branch_deploys_nothing(flavour: Flavour) -> None:
    push = received(flavour, branch="main", sha=ZERO)
    assert (push.branch, push.commit_sha) == ("main", None)
    assert decide(push, "main") == "branch main was deleted"
    assert decide(push, "dev") == "push to branch main, the git source follows dev"


@pytest.mark.parametrize(
    ("provider", "headers", "reason"),
    [
        ("github", {"x-github-event": "ping"}, "ping (X-GitHub-Event: ping): the webhook reaches Dockyard"),
        ("bitbucket", {"x-event-key": "diagnostics:ping"}, "ping (X-Event-Key: diagnostics:ping)"),
        ("github", {"x-github-event": "issues"}, "not a push event (X-GitHub-Event: issues)"),
        ("gitlab", {"x-gitlab-event": "Tag Push Hook"}, "not a push event (X-Gitlab-Event: Tag Push Hook)"),
        ("gitlab", {"x-gitlab-event": "Merge Request Hook"}, "not a push event"),
        ("gitea", {"x-gitea-event": "create"}, "not a push event (X-Gitea-Event: create)"),
        ("bitbucket", {"x-event-key": "pr:opened"}, "not a push event (X-Event-Key: pr:opened)"),
        ("gitea", {}, "not a push event (no X-Gitea-Event header)"),
    ],
)
def test_pings_and_other_events_are_answered_without_reading_the_body(provider, headers, reason) -> None:
    push = parse(provider, headers, b"not even json")
    assert push.ignored_reason.startswith(reason)
    assert (push.branch, push.commit_sha) == (None, None)
    assert decide(push, "main") == push.ignored_reason


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
def test_a_tag_push_is_not_a_branch_push(provider: str) -> None:
    event = FLAVOURS[provider].event_headers
    body = json.dumps({"ref": "refs/tags/v1.2.0", "after": SHA}).encode()
    push = parse(provider, event, body)
    assert push.ignored_reason == "push to refs/tags/v1.2.0, not to a branch"
    assert decide(push, "main") == push.ignored_reason


def test_gitlab_falls_back_on_checkout_sha() -> None:
    body = json.dumps({"ref": "refs/heads/main", "checkout_sha": SHA}).encode()
    assert parse("gitlab", {"x-gitlab-event": "Push Hook"}, body).commit_sha == SHA


def test_github_form_encoded_deliveries_are_read() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(github_body("main", SHA))}).encode()
    push = parse("github", {"x-github-event": "push"}, body)
    assert (push.branch, push.commit_sha) == ("main", SHA)


def test_commit_ids_are_lower_cased_and_sha256_repositories_accepted() -> None:
    long_sha = "ab" * 32
    assert received(FLAVOURS["gitea"], sha=SHA.upper()).commit_sha == SHA
    assert received(FLAVOURS["github"], sha=long_sha).commit_sha == long_sha


def test_a_bitbucket_push_of_several_refs_deploys_the_followed_one() -> None:
    dev_sha, main_sha = "d" * 40, "e" * 40
    changes = [
        {"ref": {"id": "refs/tags/v1", "type": "TAG"}, "toHash": "f" * 40, "type": "ADD"},
        {"ref": {"id": "refs/heads/dev", "type": "BRANCH"}, "toHash": dev_sha, "type": "UPDATE"},
        {"ref": {"id": "refs/heads/main", "type": "BRANCH"}, "toHash": main_sha, "type": "UPDATE"},
        {"ref": {"id": "refs/heads/old", "type": "BRANCH"}, "toHash": ZERO, "type": "DELETE"},
    ]
    push = parse("bitbucket", {"x-event-key": "repo:refs_changed"}, json.dumps({"changes": changes}).encode())
    assert (push.branch, push.commit_sha) == ("dev", dev_sha)
    assert decide(push, "main") == "" and push.commit_for("main") == main_sha
    assert decide(push, "dev") == "" and push.commit_for("dev") == dev_sha
    assert decide(push, "old") == "branch old was deleted"
    assert decide(push, "prod") == "push to branch dev, main, old, the git source follows prod"


def test_a_bitbucket_cloud_tag_push_is_not_a_branch_push() -> None:
    change = {"old": None, "new": {"type": "tag", "name": "v2", "target": {"hash": SHA}}}
    body = json.dumps({"push": {"changes": [change]}}).encode()
    push = parse("bitbucket", {"x-event-key": "repo:push"}, body)
    assert push.ignored_reason == "push to refs/tags/v2, not to a branch"


def test_a_push_built_by_hand_is_decided_on_its_branch() -> None:
    push = Push(delivery_id="d", branch="main", commit_sha=SHA, ignored_reason="")
    assert decide(push, "main") == "" and push.commit_for("main") == SHA
    assert decide(push, "dev") == "push to branch main, the git source follows dev"


# Malformed bodies


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (b"{not json", "is not valid JSON"),
        (b"", "is not valid JSON"),
        (b"\xff\xfe\xfa", "is not a JSON document in UTF-8"),
        (b'["refs/heads/main"]', "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply"),
        (b'{"after": "' + SHA.encode() + b'"}', "ref must be a non-empty string"),
        (b'{"ref": "refs/heads/main"}', "after must be a non-empty string"),
        (b'{"ref": "refs/heads/main", "after": "HEAD"}', "after is not a commit id"),
    ],
)
@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
def test_a_malformed_push_is_invalid_argument_naming_the_body(
    provider: str, body: bytes, description: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse(provider, FLAVOURS[provider].event_headers, body)
    assert raised.value.field == "body"
    assert raised.value.description.startswith(description)


@pytest.mark.parametrize(
    ("document", "description"),
    [
        ({"eventKey": "repo:refs_changed"}, "has neither changes[] nor push.changes[]"),
        ({"changes": [{"toHash": SHA}]}, "changes[0].ref must be an object"),
        (
            {"changes": [{"ref": {"id": "refs/heads/main"}, "toHash": "xyz"}]},
            "changes[0].toHash is not a commit id",
        ),
        ({"push": {"changes": [{"new": None, "old": None}]}}, "push.changes[0] has neither new nor old"),
        (
            {"push": {"changes": [{"new": {"type": "branch", "name": "main"}}]}},
            "push.changes[0].new.target.hash",
        ),
    ],
)
def test_a_malformed_bitbucket_push_is_invalid_argument_naming_the_body(
    document: dict, description: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse("bitbucket", {"x-event-key": "repo:push"}, json.dumps(document).encode())
    assert raised.value.field == "body"
    assert raised.value.description.startswith(description)
