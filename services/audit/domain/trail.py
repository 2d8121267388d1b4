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


class Batch:
    """What a batch of events adds to the trail and its read models, gathered as the events are
    handled and written together (`write`): usernames, projects' owners and teams, where resources
    are filed, users deleted, and the entries."""

    def __init__(self) -> None:
        self.users: dict[uuid.UUID, str] = {}
        self.projects: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]] = {}
        # resource id -> (resource type, the id it is filed under, its project)
        self.resources: dict[uuid.UUID, tuple[str, uuid.UUID, uuid.UUID]] = {}
        self.deleted_users: list[uuid.UUID] = []
        self.entries: list[entries.Entry] = []

    def take(self, event: Event, payload: Message) -> None:
        """What the event tells the read models."""
        if isinstance(payload, identity_events.UserChanged):
            if event.type == "identity.user.deleted":
                self.deleted_users.append(uuid.UUID(event.resource_id))
            else:
                self.users[uuid.UUID(payload.user.id)] = payload.user.username
        elif isinstance(payload, projects_events.ProjectChanged):
            project = payload.project
            self.projects[uuid.UUID(project.id)] = (
                uuid.UUID(project.owner_id),
                entries.uuid_or_none(project.team_id),
            )
        elif type(payload) in _SELF_FILED:
            kind = _SELF_FILED[type(payload)]
            resource = getattr(payload, kind)
            own_id = uuid.UUID(resource.id)
            self.resources[own_id] = (kind, own_id, uuid.UUID(resource.project_id))
        elif isinstance(payload, projects_events.EnvVarChanged):
            env_var = payload.env_var
            self.resources[uuid.UUID(env_var.id)] = (
                "application",
                uuid.UUID(env_var.application_id),
                uuid.UUID(payload.project_id),
            )
        elif isinstance(payload, projects_events.CertificateChanged):
            certificate = payload.certificate
            self.resources[uuid.UUID(certificate.id)] = (
                "domain",
                uuid.UUID(certificate.domain_id),
                uuid.UUID(certificate.project_id),
            )

    async def write(self, conn: asyncpg.Connection) -> None:
        """The read models first (the entries take their actors' usernames from them), then the
        users deleted (their entries lose the user id, those written before and these), then the
        entries, each in one statement or one per rare change."""
        for user_id, username in self.users.items():
            await read_model.upsert_user(conn, user_id, username)
        for project_id, (owner_id, team_id) in self.projects.items():
            await projects_read_model.upsert_project(conn, project_id, owner_id, team_id)
        await read_model.upsert_resources(conn, self.resources)
        for user_id in self.deleted_users:
            await read_model.forget_user(conn, user_id)
        await entry_store.insert_many(conn, self.entries)


async def _filing(conn: asyncpg.Connection, filed: entries.Filing, batch: Batch) -> entries.Filing:
    """A revealed secret is filed under what holds it, when the read model (or the batch) knows."""
    holder = entries.uuid_or_none(filed.holder_of)
    if holder is None:
        return filed
    if holder in batch.resources:
        resource_type, resource_id, project_id = batch.resources[holder]
        return entries.Filing(resource_type, str(resource_id), str(project_id))
    known = await read_model.filed_under(conn, holder)
    if known is None:
        return filed
    return entries.Filing(known["resource_type"], str(known["resource_id"]), str(known["project_id"]))


async def _gather(conn: asyncpg.Connection, event: Event, batch: Batch) -> None:
    payload = entries.payload_of(event)
    batch.take(event, payload)
    filed = await _filing(conn, entries.filing(event, payload), batch)
    batch.entries.append(entries.entry(event, payload, filed))


async def record(conn: asyncpg.Connection, event: Event) -> None:
    """The event's entry, written at once: the handler for one event at a time (a parked event
    replayed with `python -m dockyard_kit.events replay audit ID services.audit.domain.trail:record`)."""
    batch = Batch()
    await _gather(conn, event, batch)
    await batch.write(conn)


class Trail:
    """The consumer's handler and its deferred writes (the kit's events.consumer.Deferred): a batch's
    entries and read-model changes are gathered as its events are handled, and written together
    before it commits."""

    def __init__(self) -> None:
        self._batch = Batch()

    async def gather(self, conn: asyncpg.Connection, event: Event) -> None:
        await _gather(conn, event, self._batch)

    def discard(self) -> None:
        self._batch = Batch()

    async def write(self, conn: asyncpg.Connection) -> None:
        batch, self._batch = self._batch, Batch()
        await batch.write(conn)


def consumer(runtime: ServiceRuntime) -> EventConsumer:
    trail = Trail()
    return EventConsumer(
        runtime.pool, runtime.nats, CONSUMER_NAME, [ALL_SUBJECTS], trail.gather, batch=BATCH, deferred=trail
    )
