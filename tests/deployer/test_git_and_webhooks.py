"""Git applications and their webhooks on the running platform with a real Docker Swarm: a local bare
repository is cloned, built into an image tagged per deployment and rolled out; each provider's
signed push through the gateway queues one deployment per delivery, while a wrong signature or
another branch queues nothing; a deployment's log lines are followed live, as server-sent events
through the gateway and over gRPC directly, each line once and in order until the deployment ends."""

import http.client
import json
import threading
import uuid

import pytest

from dockyard.deployer.v1 import deployer_pb2
from services.deployer.domain.webhooks import signature_headers
from tests.deployer.support import (
    deployments_of,
    git_app,
    image_tags,
    push_commit,
    stored_logs,
    web_dockerfile,
    web_repository,
)
from tests.support.deployments import FINAL, deploy, fetch, wait_final
from tests.support.resources import call
from tests.support.waiting import eventually

TIMEOUT = 120


def test_a_git_application_builds_its_commit_and_answers(
    stack, people, project, busybox_image, docker_client, built_for, tmp_path
):
    url, sha, marker = web_repository(tmp_path, busybox_image, "from-git")
    app, _, port = git_app(stack, people.owner, project["id"], url, secret="s-" + uuid.uuid4().hex)
    built_for.append(app["id"])
    deployment = deploy(stack, people.member, app["id"])
    ended = wait_final(stack, people.member, deployment["id"], timeout=TIMEOUT)
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert ended["commit_sha"] == sha
    assert ended["metadata"]["built"] is True and ended["metadata"]["build_cache_hit"] is False
    tag = f"dockyard-app-{app['id']}:{deployment['id']}"
    assert ended["metadata"]["image"] == tag
    messages = [line["message"] for line in stored_logs(stack, people.member, deployment["id"])]
    assert f"checked out main at {sha}" in messages
    assert any(f"building {marker}" in message for message in messages), messages
    assert any(message.startswith("Step 1/") for message in messages), messages
    assert fetch(port) == "from-git"
    assert image_tags(docker_client, f"dockyard-app-{app['id']}") == [tag]
    # The same commit again builds from the cache (the seed's build_cache_hit).
    again = wait_final(stack, people.member, deploy(stack, people.member, app["id"])["id"], timeout=TIMEOUT)
    assert again["status"] == "success" and again["metadata"]["build_cache_hit"] is True, again["metadata"]
    # Projects records the deployed commit on the git source (its "latest deployed commit").
    eventually(
        lambda: (
            call(stack, people.member, "GET", f"/v1/applications/{app['id']}/git-source")[1].get("commit_sha")
            == sha
        ),
        timeout=10,
    )


# ---- webhooks through the gateway ----

SHA = "0123456789abcdef0123456789abcdef01234567"


def push_delivery(provider: str, branch: str, delivery_id: str) -> tuple[dict[str, str], bytes]:
    """A provider's push of SHA to `branch`, unsigned: (headers, body)."""
    ref = f"refs/heads/{branch}"
    if provider == "bitbucket":
        change = {"new": {"type": "branch", "name": branch, "target": {"hash": SHA}}, "old": None}
        return (
            {"x-event-key": "repo:push", "x-request-uuid": delivery_id},
            json.dumps({"push": {"changes": [change]}}).encode(),
        )
    headers = {
        "github": {"x-github-event": "push", "x-github-delivery": delivery_id},
        "gitlab": {"x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": delivery_id},
        "gitea": {"x-gitea-event": "push", "x-gitea-delivery": delivery_id},
    }[provider]
    return headers, json.dumps({"ref": ref, "after": SHA, "checkout_sha": SHA}).encode()


def post_webhook(stack, provider: str, git_source_id: str, headers: dict, body: bytes) -> tuple[int, dict]:
    """The delivery as a provider sends it: the raw body, no access token."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        sent = {"content-type": "application/json", "user-agent": "GitHub-Hookshot/tests", **headers}
        connection.request("POST", f"/v1/webhooks/{provider}/{git_source_id}", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea", "bitbucket"])
def test_a_signed_push_queues_one_deployment_per_delivery(stack, people, project, tmp_path, provider):
    secret = "s-" + uuid.uuid4().hex
    # No repository there: the deployments the pushes queue fail at the clone, fast.
    missing = (tmp_path / "no-such-repository.git").as_uri()
    app, source, _ = git_app(stack, people.owner, project["id"], missing, provider=provider, secret=secret)
    delivery = str(uuid.uuid4())
    headers, body = push_delivery(provider, "main", delivery)
    signed = {**headers, **signature_headers(provider, body, secret)}

    status, receipt = post_webhook(stack, provider, source["id"], signed, body)
    assert status == 200 and receipt["ignored_reason"] == "", receipt
    queued = receipt["deployment_id"]
    [listed] = deployments_of(stack, people.owner, app["id"])
    assert listed["id"] == queued and listed["triggered_by"] == ""
    assert listed["metadata"]["trigger"] == "webhook" and listed["metadata"]["git_ref"] == SHA

    status, again = post_webhook(stack, provider, source["id"], signed, body)
    assert (status, again["deployment_id"]) == (200, queued)

    forged_headers, forged_body = push_delivery(provider, "main", str(uuid.uuid4()))
    forged = {**forged_headers, **signature_headers(provider, forged_body, secret + "-not-it")}
    status, refused = post_webhook(stack, provider, source["id"], forged, forged_body)
    assert status == 401, refused

    other_headers, other_body = push_delivery(provider, "feature", str(uuid.uuid4()))
    other = {**other_headers, **signature_headers(provider, other_body, secret)}
    status, ignored = post_webhook(stack, provider, source["id"], other, other_body)
    assert status == 200 and ignored["deployment_id"] == "", ignored
    assert "feature" in ignored["ignored_reason"] and "main" in ignored["ignored_reason"]

    assert [d["id"] for d in deployments_of(stack, people.owner, app["id"])] == [queued]
    ended = wait_final(stack, people.owner, queued)
    assert ended["status"] == "failed" and "git clone" in ended["metadata"]["reason"], ended["metadata"]


def test_a_webhook_push_deploys_the_commit_it_pushed(
    stack, people, project, busybox_image, built_for, tmp_path
):
    secret = "s-" + uuid.uuid4().hex
    url, first, _ = web_repository(tmp_path, busybox_image, "version-one")
    app, source, port = git_app(stack, people.owner, project["id"], url, secret=secret)
    built_for.append(app["id"])
    # The branch moves on after the push: the deployment builds the pushed commit, not the tip.
    pushed = first
    push_commit(tmp_path, {"Dockerfile": web_dockerfile(busybox_image, "version-two", uuid.uuid4().hex)})
    body = json.dumps({"ref": "refs/heads/main", "after": pushed}).encode()
    headers = {"x-github-event": "push", "x-github-delivery": str(uuid.uuid4())}
    status, receipt = post_webhook(
        stack, "github", source["id"], {**headers, **signature_headers("github", body, secret)}, body
    )
    assert status == 200 and receipt["deployment_id"], receipt
    ended = wait_final(stack, people.owner, receipt["deployment_id"], timeout=TIMEOUT)
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert ended["commit_sha"] == pushed and ended["triggered_by"] == ""
    assert fetch(port) == "version-one"


def test_an_unknown_git_source_is_unauthenticated(stack):
    headers, body = push_delivery("github", "main", str(uuid.uuid4()))
    signed = {**headers, **signature_headers("github", body, "anything")}
    status, refused = post_webhook(stack, "github", str(uuid.uuid4()), signed, body)
    assert status == 401, refused


# ---- following a deployment's log lines ----


def follow_sse(stack, token: str, deployment_id: str, frames: list, connected: threading.Event) -> None:
    """Reads the server-sent events of a deployment's log lines into `frames` until the stream
    closes: (status, content-type), then each data: frame's JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=TIMEOUT)
    try:
        connection.request(
            "GET",
            f"/v1/deployments/{deployment_id}/logs:follow",
            headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"},
        )
        response = connection.getresponse()
        connected.set()
        frames.append((response.status, response.getheader("content-type", "")))
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            # Events are data: lines, each ended by an empty line; anything else is kept as is, for
            # the test to refuse.
            if line:
                frames.append(json.loads(line.removeprefix("data:")) if line.startswith("data:") else line)
    finally:
        connected.set()
        connection.close()


def test_log_lines_are_followed_live_over_sse_and_grpc(
    stack, people, project, busybox_image, deployer_direct, built_for, tmp_path
):
    url, _, marker = web_repository(tmp_path, busybox_image, "followed", build_seconds=4)
    app, _, _ = git_app(stack, people.owner, project["id"], url, secret="s-" + uuid.uuid4().hex)
    built_for.append(app["id"])
    deployment = deploy(stack, people.owner, app["id"])

    frames: list = []
    connected = threading.Event()
    reader = threading.Thread(
        target=follow_sse, args=(stack, people.owner.token, deployment["id"], frames, connected)
    )
    reader.start()
    assert connected.wait(30)

    # gRPC directly, once the deployment has lines and is still running: the backlog, then the rest.
    def running_with_lines():
        lines = stored_logs(stack, people.owner, deployment["id"])
        status = call(stack, people.owner, "GET", f"/v1/deployments/{deployment['id']}")[1]["status"]
        assert status not in FINAL, "the deployment ended before the follower connected"
        return lines or None

    backlog = eventually(running_with_lines, timeout=60, interval=0.1)
    request = deployer_pb2.FollowDeploymentLogsRequest(deployment_id=deployment["id"])
    followed = list(
        deployer_direct.FollowDeploymentLogs(request, metadata=people.owner.metadata, timeout=TIMEOUT)
    )
    reader.join(TIMEOUT)
    assert not reader.is_alive(), "the event stream did not close when the deployment ended"

    ended = wait_final(stack, people.owner, deployment["id"], timeout=10)
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    stored = [int(line["id"]) for line in stored_logs(stack, people.owner, deployment["id"])]

    grpc_ids = [line.id for line in followed]
    assert grpc_ids == stored and followed[-1].message == "deployment succeeded"
    assert len(stored) > len(backlog) and grpc_ids[: len(backlog)] == [int(line["id"]) for line in backlog]

    (status, content_type), *events = frames
    assert status == 200 and content_type.startswith("text/event-stream"), frames[:1]
    assert all(isinstance(event, dict) for event in events), events
    sse_ids = [int(event["id"]) for event in events]
    assert sse_ids == stored, "each line once, in order, as stored"
    assert all(event["deployment_id"] == deployment["id"] for event in events)
    assert any(f"building {marker}" in event["message"] for event in events)
    assert events[-1]["message"] == "deployment succeeded"
