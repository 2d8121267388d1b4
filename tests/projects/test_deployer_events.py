"""The projects service follows the deployer's events on the running platform (published to
JetStream as the deployer's relay would): an application's status follows its deployments, each
change an application.status_changed event; a cancel goes back to the status before the
deployment; a change the status table forbids, or about an application that is gone, is
acknowledged and the consumer goes on with the next event."""

import uuid

import pytest

from dockyard.deployer.v1 import deployer_pb2
from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.projects.v1 import events_pb2
from dockyard_kit.events import new_event
from tests.support.calls import payload
from tests.support.resources import call, create, new_app, outbox
from tests.support.stream import publish
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    return create(stack, people.owner)


def status(stack, people, app: dict) -> str:
    code, body = call(stack, people.owner, "GET", f"/v1/applications/{app['id']}")
    assert code == 200, body
    return body["status"]


def deployment_event(verb: str, application_id: str, project_id: str, *, actor: str = "", **metadata):
    deployment = deployer_pb2.Deployment(
        id=str(uuid.uuid4()), application_id=application_id, project_id=project_id, triggered_by=actor
    )
    deployment.metadata.update(metadata)
    changed = deployer_events.DeploymentChanged(deployment=deployment, application_name="web")
    return new_event("deployer", "deployment", verb, deployment.id, changed, actor_user_id=actor)


class Deployer:
    """Sends one application's deployment events and waits for projects to apply them."""

    def __init__(self, stack, people, project) -> None:
        self.stack, self.people, self.project = stack, people, project

    def app(self) -> dict:
        return new_app(self.stack, self.people.owner, self.project["id"], docker_config={"image": "busybox"})

    def send(self, verb: str, app: dict, **metadata) -> None:
        publish(
            self.stack,
            deployment_event(verb, app["id"], self.project["id"], actor=self.people.owner.id, **metadata),
        )

    def settled(self, app: dict, expected: str) -> None:
        eventually(lambda: status(self.stack, self.people, app) == expected, timeout=20)

    def barrier(self) -> None:
        """Every event sent before has been handled: the consumer handles them one at a time, in order."""
        marker = self.app()
        self.send("started", marker)
        self.settled(marker, "deploying")


@pytest.fixture(scope="module")
def deployer(stack, people, project) -> Deployer:
    return Deployer(stack, people, project)


def test_a_deployment_takes_the_application_through_deploying_to_running(stack, people, deployer):
    app = deployer.app()
    deployer.send("queued", app)
    deployer.barrier()
    assert status(stack, people, app) == "stopped"
    deployer.send("started", app)
    deployer.settled(app, "deploying")
    deployer.send("succeeded", app)
    deployer.settled(app, "running")

    changes = [e for e in outbox(stack, app["id"]) if e.type == "projects.application.status_changed"]
    assert [payload(e, events_pb2.ApplicationChanged).previous_status for e in changes] == [
        "stopped",
        "deploying",
    ]
    assert [payload(e, events_pb2.ApplicationChanged).application.status for e in changes] == [
        "deploying",
        "running",
    ]
    assert {e.actor_user_id for e in changes} == {people.owner.id}


def test_a_failed_deployment_and_a_rollback(deployer):
    app = deployer.app()
    deployer.send("started", app)
    deployer.settled(app, "deploying")
    deployer.send("failed", app)
    deployer.settled(app, "failed")
    deployer.send("started", app)
    deployer.settled(app, "deploying")
    deployer.send("rolled_back", app)
    deployer.settled(app, "running")


def test_a_cancel_goes_back_to_the_status_before_the_deployment(stack, people, deployer):
    running = deployer.app()
    for verb in ("started", "succeeded", "started"):
        deployer.send(verb, running)
    deployer.settled(running, "deploying")
    deployer.send("cancelled", running, previous_application_status="running")
    deployer.settled(running, "running")

    # A first deployment cancelled: stopped again, as the deployer recorded it.
    first = deployer.app()
    deployer.send("started", first)
    deployer.settled(first, "deploying")
    deployer.send("cancelled", first, previous_application_status="stopped")
    deployer.settled(first, "stopped")

    # Nothing recorded: deploying describes nothing any more.
    unrecorded = deployer.app()
    deployer.send("started", unrecorded)
    deployer.settled(unrecorded, "deploying")
    deployer.send("cancelled", unrecorded)
    deployer.settled(unrecorded, "failed")

    # Cancelled while still queued: the application never left its status.
    pending = deployer.app()
    deployer.send("cancelled", pending)
    deployer.barrier()
    assert status(stack, people, pending) == "stopped"


def test_what_cannot_apply_is_acknowledged_and_the_consumer_goes_on(stack, people, deployer):
    app = deployer.app()
    before = outbox(stack, app["id"])
    deployer.send("succeeded", app)  # stopped cannot become running without deploying
    publish(
        stack, deployment_event("started", str(uuid.uuid4()), deployer.project["id"])
    )  # no such application
    publish(stack, deployment_event("started", "not-an-id", deployer.project["id"]))
    archived = deployer.app()
    assert call(stack, people.owner, "DELETE", f"/v1/applications/{archived['id']}")[0] == 200
    deployer.send("started", archived)
    deployer.barrier()
    assert status(stack, people, app) == "stopped" and outbox(stack, app["id"]) == before
    code, body = call(stack, people.owner, "GET", f"/v1/applications/{archived['id']}")
    assert code == 200 and body["status"] == "archived"
