"""One call writes a service's event (EventEmitter.emit): the envelope names the emitter's service,
the resource and the actor, and lands in the outbox of the change's transaction."""

from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db
from dockyard_kit.events import EventEmitter


async def outbox_events(pool) -> list[Event]:
    rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
    return [Event.FromString(row["envelope"]) for row in rows]


async def test_an_emitted_event_is_the_services_and_names_resource_and_actor(pool):
    emit = EventEmitter("widgets").emit
    async with db.transaction(pool) as conn:
        await emit(conn, "widget", "renamed", "w-7", wrappers_pb2.StringValue(value="gear"), actor="u-1")
    [event] = await outbox_events(pool)
    assert (event.type, event.subject, event.source_service) == (
        "widgets.widget.renamed",
        "dockyard.widgets.widget.renamed",
        "widgets",
    )
    assert (event.resource_type, event.resource_id, event.actor_user_id) == ("widget", "w-7", "u-1")
    payload = wrappers_pb2.StringValue()
    assert event.payload.Unpack(payload) and payload.value == "gear"


async def test_an_event_may_be_filed_under_another_resource_type(pool):
    emit = EventEmitter("widgets").emit
    async with db.transaction(pool) as conn:
        await emit(
            conn, "audit", "checked", "w-8", wrappers_pb2.StringValue(), actor="", filed_under="widget"
        )
    [event] = await outbox_events(pool)
    assert (event.type, event.resource_type) == ("widgets.audit.checked", "widget")


async def test_nothing_is_written_when_the_change_rolls_back(pool):
    emit = EventEmitter("widgets").emit
    try:
        async with db.transaction(pool) as conn:
            await emit(conn, "widget", "created", "w-9", wrappers_pb2.StringValue(), actor="u-1")
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    assert await outbox_events(pool) == []
