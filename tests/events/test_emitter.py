"""One call writes a service's event (EventEmitter.emit): the envelope names the emitter's service,
the resource and the actor, and lands in the outbox of the change's transaction; only an event the
contract's catalogue lists, with its own payload, is written."""

import pytest
from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1.events_pb2 import LoginAttempted
from dockyard.projects.v1.events_pb2 import ProjectChanged
from dockyard.projects.v1.projects_pb2 import Project
from dockyard_kit import db
from dockyard_kit.events import EventEmitter


async def outbox_events(pool) -> list[Event]:
    rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
    return [Event.FromString(row["envelope"]) for row in rows]


async def test_an_emitted_event_is_the_services_and_names_resource_and_actor(pool):
    emit = EventEmitter("projects").emit
    changed = ProjectChanged(project=Project(id="p-7", name="gear"))
    async with db.transaction(pool) as conn:
        await emit(conn, "project", "updated", "p-7", changed, actor="u-1")
    [event] = await outbox_events(pool)
    assert (event.type, event.subject, event.source_service) == (
        "projects.project.updated",
        "dockyard.projects.project.updated",
        "projects",
    )
    assert (event.resource_type, event.resource_id, event.actor_user_id) == ("project", "p-7", "u-1")
    payload = ProjectChanged()
    assert event.payload.Unpack(payload) and payload.project.name == "gear"


async def test_an_event_may_be_filed_under_another_resource_type(pool):
    emit = EventEmitter("identity").emit
    async with db.transaction(pool) as conn:
        await emit(
            conn,
            "auth",
            "login_succeeded",
            "u-8",
            LoginAttempted(user_id="u-8"),
            actor="u-8",
            filed_under="user",
        )
    [event] = await outbox_events(pool)
    assert (event.type, event.resource_type) == ("identity.auth.login_succeeded", "user")


@pytest.mark.parametrize(
    ("service", "resource", "verb", "payload", "refusal"),
    [
        (
            "projects",
            "project",
            "renamed",
            ProjectChanged(),
            "projects.project.renamed is not in the contract",
        ),
        (
            "widgets",
            "widget",
            "created",
            wrappers_pb2.StringValue(),
            "widgets.widget.created is not in the contract",
        ),
        ("projects", "project", "created", LoginAttempted(), "carries dockyard.projects.v1.ProjectChanged"),
    ],
)
async def test_an_event_the_catalogue_does_not_list_is_refused_and_nothing_is_written(
    pool, service, resource, verb, payload, refusal
):
    emit = EventEmitter(service).emit
    with pytest.raises(ValueError, match=refusal):
        async with db.transaction(pool) as conn:
            await emit(conn, resource, verb, "r-1", payload, actor="u-1")
    assert await outbox_events(pool) == []


async def test_nothing_is_written_when_the_change_rolls_back(pool):
    emit = EventEmitter("projects").emit
    try:
        async with db.transaction(pool) as conn:
            await emit(conn, "project", "created", "p-9", ProjectChanged(), actor="u-1")
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    assert await outbox_events(pool) == []
