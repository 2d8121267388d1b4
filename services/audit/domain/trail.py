"""The trail's consumer: every event of every service (`dockyard.>`) becomes one entry, in the
transaction that records the event in the inbox (so a redelivery writes nothing twice), after the
read models the entry and later access decisions need have taken what the event tells."""

import uuid

import asyncpg
from google.protobuf.message import Message

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard_kit import projects_read_model
from dockyard_kit.events import EventConsumer
from dockyard_kit.events.outbox import ALL_SUBJECTS
from dockyard_kit.server import ServiceRuntime
from services.audit.domain import entries
from services.audit.store import entries as entry_store
from services.audit.store import read_model

CONSUMER_NAME = "trail"
# Events applied per transaction while they flow (the kit's batched consumer): the trail keeps no
# per-resource order (each entry carries its time), and one commit per event would cap ingestion.
BATCH = 500

# Payloads about a resource of the seed's types in a project: payload class -> its field and type.
_SELF_FILED = {
    projects_events.ApplicationChanged: "application",
    projects_events.DatabaseChanged: "database",
    projects_events.DomainChanged: "domain",
}


async def _keep_read_models(conn: asyncpg.Connection, event: Event, payload: Message) -> None:
    if isinstance(payload, identity_events.UserChanged) and event.type != "identity.user.deleted":
        await read_model.upsert_user(conn, uuid.UUID(payload.user.id), payload.user.username)
    elif isinstance(payload, projects_events.ProjectChanged):
        project = payload.project
        await projects_read_model.upsert_project(
            conn, uuid.UUID(project.id), uuid.UUID(project.owner_id), entries.uuid_or_none(project.team_id)
        )
    elif type(payload) in _SELF_FILED:
        kind, resource = _SELF_FILED[type(payload)], getattr(payload, _SELF_FILED[type(payload)])
        own_id = uuid.UUID(resource.id)
        await read_model.upsert_resource(conn, own_id, kind, own_id, uuid.UUID(resource.project_id))
    elif isinstance(payload, projects_events.EnvVarChanged):
        await read_model.upsert_resource(
            conn,
            uuid.UUID(payload.env_var.id),
            "application",
            uuid.UUID(payload.env_var.application_id),
            uuid.UUID(payload.project_id),
        )
    elif isinstance(payload, projects_events.CertificateChanged):
        certificate = payload.certificate
        await read_model.upsert_resource(
            conn,
            uuid.UUID(certificate.id),
            "domain",
            uuid.UUID(certificate.domain_id),
            uuid.UUID(certificate.project_id),
        )


async def _filing(conn: asyncpg.Connection, filed: entries.Filing) -> entries.Filing:
    """A revealed secret is filed under what holds it, when the read model knows."""
    holder = entries.uuid_or_none(filed.holder_of)
    if holder is None:
        return filed
    known = await read_model.filed_under(conn, holder)
    if known is None:
        return filed
    return entries.Filing(known["resource_type"], str(known["resource_id"]), str(known["project_id"]))


async def _prepared(conn: asyncpg.Connection, event: Event) -> entries.Entry:
    """The event's entry, once the read models have taken what the event tells."""
    payload = entries.payload_of(event)
    await _keep_read_models(conn, event, payload)
    filed = await _filing(conn, entries.filing(event, payload))
    if event.type == "identity.user.deleted":
        # The user's entries lose their user id, those written so far and those still to come.
        await read_model.forget_user(conn, uuid.UUID(event.resource_id))
    return entries.entry(event, payload, filed)


async def record(conn: asyncpg.Connection, event: Event) -> None:
    """The event's entry, written at once: the handler for one event at a time (a parked event
    replayed with `python -m dockyard_kit.events replay audit ID services.audit.domain.trail:record`)."""
    await entry_store.insert_many(conn, [await _prepared(conn, event)])


class Trail:
    """The consumer's handler and its deferred writes (the kit's events.consumer.Deferred): a batch's
    entries are gathered as its events are handled and written in one statement before it commits."""

    def __init__(self) -> None:
        self._pending: list[entries.Entry] = []

    async def gather(self, conn: asyncpg.Connection, event: Event) -> None:
        self._pending.append(await _prepared(conn, event))

    def discard(self) -> None:
        self._pending.clear()

    async def write(self, conn: asyncpg.Connection) -> None:
        pending, self._pending = self._pending, []
        await entry_store.insert_many(conn, pending)


def consumer(runtime: ServiceRuntime) -> EventConsumer:
    trail = Trail()
    return EventConsumer(
        runtime.pool, runtime.nats, CONSUMER_NAME, [ALL_SUBJECTS], trail.gather, batch=BATCH, deferred=trail
    )
