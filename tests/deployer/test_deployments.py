"""Deployments on the running platform with a real Docker Swarm: an image application deploys and
answers on its published port; its deployment records status, metadata, events and log lines;
request_id makes a retry return the first deployment; bad input is refused naming the field."""

from dockyard.deployer.v1 import deployer_pb2
from tests.support.deployments import deploy, fetch, wait_final, web_app
from tests.support.resources import call, new_app, outbox


def test_an_image_application_deploys_and_answers(stack, people, project, busybox_image):
    app, port = web_app(stack, people.owner, project["id"], busybox_image)
    deployment = deploy(stack, people.member, app["id"], request_id="first-try")
    assert deployment["status"] == "pending" and deployment["triggered_by"] == people.member.id
    ended = wait_final(stack, people.member, deployment["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert fetch(port) == "hello"
    assert ended["metadata"]["image"] == busybox_image and ended["metadata"]["duration_seconds"] > 0
    assert "completed_at" in ended and "deployment succeeded" in ended["logs"]
    verbs = [event.type for event in outbox(stack, deployment["id"], schema="deployer")]
    assert verbs == [
        "deployer.deployment.queued",
        "deployer.deployment.started",
        "deployer.deployment.succeeded",
    ]
    # The same request_id again: the first deployment, nothing queued.
    again = deploy(stack, people.member, app["id"], request_id="first-try")
    assert again["id"] == deployment["id"]
    status, listed = call(stack, people.member, "GET", f"/v1/applications/{app['id']}/deployments")
    assert status == 200 and [d["id"] for d in listed["deployments"]] == [deployment["id"]]
    status, logs = call(stack, people.member, "GET", f"/v1/deployments/{deployment['id']}/logs")
    assert status == 200 and any("rolling out" in line["message"] for line in logs["lines"])


def test_follow_gives_the_backlog_then_ends(stack, people, project, busybox_image, deployer_direct):
    app, _ = web_app(stack, people.owner, project["id"], busybox_image)
    deployment = deploy(stack, people.owner, app["id"])
    request = deployer_pb2.FollowDeploymentLogsRequest(deployment_id=deployment["id"])
    lines = list(deployer_direct.FollowDeploymentLogs(request, metadata=people.owner.metadata, timeout=90))
    ids = [line.id for line in lines]
    assert ids == sorted(set(ids)) and lines[-1].message == "deployment succeeded"
    stored = call(stack, people.owner, "GET", f"/v1/deployments/{deployment['id']}/logs?page_size=100")[1]
    assert [int(line["id"]) for line in stored["lines"]] == ids


def test_bad_input_names_the_field(stack, people, project):
    status, body = call(stack, people.owner, "POST", "/v1/applications/not-an-id/deployments", {})
    assert status == 400 and "application_id" in body["message"]
    status, body = call(stack, people.unrelated, "POST", f"/v1/applications/{project['id']}/deployments", {})
    assert status == 404


def test_lists_are_newest_first_in_keyset_pages_with_a_status_filter(stack, people, project):
    # An image nobody has: each deployment fails fast, which is all a list needs.
    app = new_app(stack, people.owner, project["id"], docker_config={"image": "dockyard-test/absent:1"})
    ids = []
    for _ in range(3):
        deployment = deploy(stack, people.owner, app["id"])
        assert wait_final(stack, people.owner, deployment["id"])["status"] == "failed"
        ids.append(deployment["id"])
    listing = f"/v1/applications/{app['id']}/deployments"
    status, first = call(stack, people.owner, "GET", f"{listing}?page_size=2")
    assert status == 200 and [d["id"] for d in first["deployments"]] == ids[::-1][:2]
    status, second = call(
        stack, people.owner, "GET", f"{listing}?page_size=2&page_token={first['next_page_token']}"
    )
    assert status == 200 and [d["id"] for d in second["deployments"]] == [ids[0]]
    assert "next_page_token" not in second or not second["next_page_token"]
    assert len(call(stack, people.owner, "GET", f"{listing}?status=failed")[1]["deployments"]) == 3
    assert call(stack, people.owner, "GET", f"{listing}?status=success")[1].get("deployments", []) == []
    # A token belongs to its filters; a status outside the seed's enum is refused by name.
    status, body = call(
        stack, people.owner, "GET", f"{listing}?status=failed&page_token={first['next_page_token']}"
    )
    assert status == 400 and "page_token" in body["message"]
    status, body = call(stack, people.owner, "GET", f"{listing}?status=cancelled")
    assert status == 400 and "status" in body["message"]
    [failed] = call(stack, people.owner, "GET", f"/v1/deployments/{ids[0]}")[1:]
    assert "dockyard-test/absent:1" in failed["metadata"]["reason"]
