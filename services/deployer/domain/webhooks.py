"""Git providers' push webhooks: is a delivery signed with the git source's secret, and what did it push.

Pure functions over what ReceiveWebhook receives: the provider named in the path, the HTTP headers as
gRPC metadata (Envoy's transcoder hands them over with lower-case keys) and the body exactly as sent,
since the signature covers those bytes. `verify` first, then `parse`, then `decide` against the branch
the git source follows.
"""

import dataclasses
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping

from dockyard_kit.errors import InvalidArgument, ResourceExhausted, Unauthenticated

PROVIDERS = ("github", "gitlab", "gitea", "bitbucket")

# The gateway's request body limit too (gateway/envoy.py max_request_bytes); checked again here for
# deliveries that reach the service over gRPC directly.
MAX_WEBHOOK_BYTES = 1 << 20

# A delivery id becomes the deployment's idempotency key, and request ids are at most 100 characters.
MAX_DELIVERY_ID_CHARS = 100

_COMMIT_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1, or SHA-256 object format


@dataclasses.dataclass(frozen=True)
class BranchUpdate:
    branch: str
    commit_sha: str | None  # None: the push deleted the branch


@dataclasses.dataclass(frozen=True)
class Push:
    delivery_id: str
    branch: str | None
    commit_sha: str | None
    ignored_reason: str  # "" when it should deploy
    # Every branch the push moved. One for GitHub, GitLab and Gitea, which send a delivery per ref;
    # Bitbucket sends one delivery for all the refs of a push, and `branch` is then the first of them.
    updates: tuple[BranchUpdate, ...] = ()

    def branch_updates(self) -> tuple[BranchUpdate, ...]:
        if self.updates:
            return self.updates
        return (BranchUpdate(self.branch, self.commit_sha),) if self.branch else ()

    def update_of(self, branch: str) -> BranchUpdate | None:
        return next((update for update in self.branch_updates() if update.branch == branch), None)

    def commit_for(self, branch: str) -> str | None:
        """The commit the push left `branch` at; None when it did not move it or deleted it."""
        update = self.update_of(branch)
        return update.commit_sha if update else None


@dataclasses.dataclass(frozen=True)
class _Provider:
    signature_header: str  # as the provider spells it, for messages; looked up lower-cased
    signature_prefix: str  # before the hex digest ("sha256="); unused for a token
    sends_token: bool  # the header carries the secret itself rather than an HMAC of the body
    delivery_headers: tuple[str, ...]  # the first one present identifies the delivery
    event_header: str
    push_events: frozenset[str]
    ping_events: frozenset[str]


_PROVIDERS = {
    "github": _Provider(
        signature_header="X-Hub-Signature-256",
        signature_prefix="sha256=",
        sends_token=False,
        delivery_headers=("x-github-delivery",),
        event_header="X-GitHub-Event",
        push_events=frozenset({"push"}),
        ping_events=frozenset({"ping"}),
    ),
    "gitlab": _Provider(
        signature_header="X-Gitlab-Token",
        signature_prefix="",
        sends_token=True,
        # Idempotency-Key stays the same across GitLab's retries of one delivery; older GitLab sends
        # only the event UUID.
        delivery_headers=("idempotency-key", "x-gitlab-event-uuid"),
        event_header="X-Gitlab-Event",
        push_events=frozenset({"Push Hook"}),
        ping_events=frozenset(),
    ),
    "gitea": _Provider(
        signature_header="X-Gitea-Signature",
        signature_prefix="",
        sends_token=False,
        delivery_headers=("x-gitea-delivery",),
        event_header="X-Gitea-Event",
        push_events=frozenset({"push"}),
        ping_events=frozenset(),
    ),
    # Bitbucket Cloud (repo:push, X-Request-UUID) and Data Center (repo:refs_changed, X-Request-Id).
    # Both document only HMAC-SHA256 for X-Hub-Signature ("sha256=<hex>"); sha1= is refused.
    "bitbucket": _Provider(
        signature_header="X-Hub-Signature",
        signature_prefix="sha256=",
        sends_token=False,
        delivery_headers=("x-request-uuid", "x-request-id"),
        event_header="X-Event-Key",
        push_events=frozenset({"repo:push", "repo:refs_changed"}),
        ping_events=frozenset({"diagnostics:ping"}),
    ),
}


def _provider(provider: str) -> _Provider:
    try:
        return _PROVIDERS[provider]
    except KeyError:
        raise InvalidArgument("provider", f"must be one of {', '.join(PROVIDERS)}") from None


def _check_size(body: bytes) -> None:
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ResourceExhausted(f"webhook body larger than {MAX_WEBHOOK_BYTES} bytes")


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_headers(provider: str, body: bytes, secret: str) -> dict[str, str]:
    """The signature header a provider sends with `body` for a webhook with `secret` (lower-case key)."""
    spec = _provider(provider)
    value = secret if spec.sends_token else spec.signature_prefix + _hmac_hex(secret, body)
    return {spec.signature_header.lower(): value}


def verify(provider: str, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raises Unauthenticated unless the delivery carries the signature (or token) of `secret`."""
    spec = _provider(provider)
    _check_size(body)
    if not secret:
        # An HMAC keyed with nothing is one anybody can compute.
        raise Unauthenticated("this git source has no webhook secret, so its webhooks are refused")
    given = headers.get(spec.signature_header.lower(), "").strip()
    if not given:
        how = (
            "the webhook secret"
            if spec.sends_token
            else f"{spec.signature_prefix}<hex HMAC-SHA256 of the body>"
        )
        raise Unauthenticated(f"missing {spec.signature_header} header ({how})")
    if spec.sends_token:
        expected = secret
    else:
        expected = spec.signature_prefix + _hmac_hex(secret, body)
        given = given.lower()  # hex digits in either case
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may hold anything.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        if spec.signature_prefix and not given.startswith(spec.signature_prefix):
            raise Unauthenticated(f"{spec.signature_header} must be {spec.signature_prefix}<hex HMAC-SHA256>")
        raise Unauthenticated(f"{spec.signature_header} does not match the git source's webhook secret")


def _delivery_id(provider: str, spec: _Provider, headers: Mapping[str, str], body: bytes) -> str:
    """The provider's id for the delivery; without one, a digest of the body, so that a replayed body
    still counts as the same delivery. Overlong ids are digested to fit an idempotency key."""
    given = next((headers[h].strip() for h in spec.delivery_headers if headers.get(h, "").strip()), "")
    if given and len(given) <= MAX_DELIVERY_ID_CHARS:
        return given
    source = given.encode() if given else provider.encode() + b"\n" + body
    return "sha256:" + hashlib.sha256(source).hexdigest()


def _payload(body: bytes) -> dict:
    """The JSON document of the body; GitHub and Gitea can also send it form-encoded as `payload=`."""
    try:
        if body.startswith(b"payload="):
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
            body = form["payload"][0].encode()
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            "body", f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, KeyError):  # not UTF-8, or a form without a payload
        raise InvalidArgument("body", "is not a JSON document in UTF-8") from None
    except RecursionError:
        raise InvalidArgument("body", "is nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidArgument("body", "must be a JSON object")
    return document


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument("body", f"{where} must be a non-empty string")
    return value


def _commit_sha(value: object, where: str) -> str | None:
    """The commit a ref points at after the push; None for a deletion (the all-zero id)."""
    sha = _string(value, where).lower()
    if not _COMMIT_SHA.match(sha):
        raise InvalidArgument("body", f"{where} is not a commit id (40 or 64 hexadecimal characters)")
    return None if set(sha) == {"0"} else sha


def _not_a_branch(refs: list[str]) -> str:
    return f"push to {', '.join(refs)}, not to a branch"


def _ref_push(delivery_id: str, payload: dict) -> Push:
    """GitHub, GitLab and Gitea: one ref per delivery, `ref` and the commit `after` it."""
    ref = _string(payload.get("ref"), "ref")
    if not ref.startswith("refs/heads/"):
        return Push(delivery_id, None, None, _not_a_branch([ref]))
    branch = ref.removeprefix("refs/heads/")
    after = payload.get("after") or payload.get("checkout_sha")  # GitLab has both; checkout_sha may be null
    sha = None if payload.get("deleted") is True else _commit_sha(after, "after")
    return Push(delivery_id, branch, sha, "", (BranchUpdate(branch, sha),))


def _bitbucket_changes(payload: dict) -> list[tuple[str, str | None, str | None]]:
    """(ref, branch or None for other refs, commit after) of each change, from Data Center's
    `changes` or Cloud's `push.changes`."""
    if isinstance(payload.get("changes"), list):  # Data Center: repo:refs_changed
        found = []
        for index, change in enumerate(payload["changes"]):
            where = f"changes[{index}]"
            if not isinstance(change, dict) or not isinstance(change.get("ref"), dict):
                raise InvalidArgument("body", f"{where}.ref must be an object")
            ref = _string(change["ref"].get("id") or change.get("refId"), f"{where}.ref.id")
            branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
            deleted = change.get("type") == "DELETE"
            sha = None if deleted else _commit_sha(change.get("toHash"), f"{where}.toHash")
            found.append((ref, branch, sha))
        return found
    push = payload.get("push")
    if not isinstance(push, dict) or not isinstance(push.get("changes"), list):
        raise InvalidArgument("body", "has neither changes[] nor push.changes[]")
    found = []
    for index, change in enumerate(push["changes"]):  # Cloud: repo:push
        where = f"push.changes[{index}]"
        if not isinstance(change, dict):
            raise InvalidArgument("body", f"{where} must be an object")
        new, old = change.get("new"), change.get("old")
        state = new if isinstance(new, dict) else old  # `new` is null when the push deleted the ref
        if not isinstance(state, dict):
            raise InvalidArgument("body", f"{where} has neither new nor old")
        name = _string(state.get("name"), f"{where}.new.name")
        kind = state.get("type")
        sha = None
        if isinstance(new, dict):
            target = new.get("target")
            sha = _commit_sha(
                target.get("hash") if isinstance(target, dict) else None, f"{where}.new.target.hash"
            )
        ref = {"branch": "refs/heads/", "tag": "refs/tags/"}.get(kind, f"{kind} ") + name
        found.append((ref, name if kind == "branch" else None, sha))
    return found


def _bitbucket_push(delivery_id: str, payload: dict) -> Push:
    changes = _bitbucket_changes(payload)
    updates = tuple(BranchUpdate(branch, sha) for _, branch, sha in changes if branch is not None)
    if not updates:
        reason = _not_a_branch([ref for ref, _, _ in changes]) if changes else "push changed no refs"
        return Push(delivery_id, None, None, reason)
    return Push(delivery_id, updates[0].branch, updates[0].commit_sha, "", updates)


def parse(provider: str, headers: Mapping[str, str], body: bytes) -> Push:
    """What a verified delivery pushed. A delivery that is no push (a ping, an issue...) or that moved
    no branch (a tag) comes back with its ignored_reason; the body is read only for pushes."""
    spec = _provider(provider)
    _check_size(body)
    delivery_id = _delivery_id(provider, spec, headers, body)
    event = headers.get(spec.event_header.lower(), "").strip()
    if event in spec.ping_events:
        return Push(
            delivery_id, None, None, f"ping ({spec.event_header}: {event}): the webhook reaches Dockyard"
        )
    if event not in spec.push_events:
        named = f"{spec.event_header}: {event[:64]}" if event else f"no {spec.event_header} header"
        return Push(delivery_id, None, None, f"not a push event ({named})")
    payload = _payload(body)
    if provider == "bitbucket":
        return _bitbucket_push(delivery_id, payload)
    return _ref_push(delivery_id, payload)


def decide(push: Push, target_branch: str) -> str:
    """Why the push deploys nothing for a git source following `target_branch`; "" when it deploys
    push.commit_for(target_branch)."""
    if push.ignored_reason:
        return push.ignored_reason
    update = push.update_of(target_branch)
    if update is None:
        branches = ", ".join(u.branch for u in push.branch_updates())
        if not branches:
            return "not a push to a branch"
        return f"push to branch {branches}, the git source follows {target_branch}"
    if update.commit_sha is None:
        return f"branch {target_branch} was deleted"
    return ""
