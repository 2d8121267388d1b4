"""Writing events: build the envelope, and add it to the outbox in the transaction of the change.
A service writes its events through one `EventEmitter`, bound to its name:

    events = EventEmitter("projects")
    async with db.transaction(pool) as conn:
        await conn.execute("UPDATE ...")
        await events.emit(conn, "project", "renamed", project_id, ProjectRenamed(...), actor=user_id)

The relay publishes the row only once that transaction has committed, so nothing is published that
was not committed, and nothing committed is lost.
"""

import datetime
import re
import uuid

import asyncpg
from google.protobuf.message import Message

from dockyard.events.v1.envelope_pb2 import Event, RequestMetadata
from dockyard_kit import event_catalog, protoconv
from dockyard_kit.interceptors import RequestInfo, current_request

SUBJECT_PREFIX = "dockyard"
# Every subject the backbone publishes on: the stream's subject filter.
ALL_SUBJECTS = f"{SUBJECT_PREFIX}.>"
# The first key of the two-key advisory locks that order one resource's events. Two-key locks never
# collide with the single-key locks used elsewhere (relay leadership, migrations).
RESOURCE_LOCK_CLASS = 0x6F757462  # "outb"
# Where enqueue() tells relays, at commit, that the schema's outbox has news.
NOTIFY_CHANNEL_PREFIX = "dockyard_outbox_"

# An outbox row the stream refuses would hold up every row behind it, so enqueue() refuses it first.
# NATS takes 1 MiB by default; events carry identifiers and small facts, not documents.
MAX_ENVELOPE_BYTES = 256 * 1024

# One NATS subject token: lowercase, so types read the same everywhere, and free of "." and wildcards.
_TOKEN = re.compile(r"[a-z][a-z0-9_]*")


def event_type(service: str, resource_type: str, verb: str) -> str:
    """The event type, "<service>.<resource>.<verb>", e.g. "identity.user.created"."""
    for part, value in (("service", service), ("resource type", resource_type), ("verb", verb)):
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"event {part} must match {_TOKEN.pattern}, got {value!r}")
    return f"{service}.{resource_type}.{verb}"


def subject_for(type_: str) -> str:
    return f"{SUBJECT_PREFIX}.{type_}"


def notify_channel(schema: str) -> str:
    return NOTIFY_CHANNEL_PREFIX + schema


def new_event(
    service: str,
    resource_type: str,
    verb: str,
    resource_id: str,
    payload: Message,
    *,
    actor_user_id: str = "",
    request: RequestInfo | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Event:
    """An event about one resource. Request metadata defaults to the RPC being served, if any."""
    if not resource_id:
        raise ValueError("an event needs the id of the resource it is about")
    type_ = event_type(service, resource_type, verb)
    request = request if request is not None else current_request.get()
    event = Event(
        id=str(uuid.uuid4()),
        type=type_,
        subject=subject_for(type_),
        resource_type=resource_type,
        resource_id=resource_id,
        actor_user_id=actor_user_id,
        source_service=service,
    )
    if request is not None:
        event.request.CopyFrom(
            RequestMetadata(
                request_id=request.request_id, client_ip=request.client_ip, user_agent=request.user_agent
            )
        )
    protoconv.set_timestamp(event.occurred_at, occurred_at or datetime.datetime.now(datetime.UTC))
    event.payload.Pack(payload)
    return event


def serialize_for_outbox(event: Event) -> bytes:
    """The envelope as the relay will publish it, once it is sure to be publishable."""
    parts = event.type.split(".")
    if len(parts) != 3:
        raise ValueError(f"event type must read <service>.<resource>.<verb>, got {event.type!r}")
    event_type(*parts)
    if event.subject != subject_for(event.type):
        raise ValueError(f"event subject must be {subject_for(event.type)!r}, got {event.subject!r}")
    uuid.UUID(event.id)
    if not event.resource_type or not event.resource_id:
        raise ValueError("an event needs the type and id of the resource it is about")
    envelope = event.SerializeToString()
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise ValueError(f"event envelope is {len(envelope)} bytes; at most {MAX_ENVELOPE_BYTES}")
    return envelope


async def enqueue(conn: asyncpg.Connection, event: Event) -> None:
    """Adds `event` to the outbox of the connection's schema, in the caller's transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue() must run inside the transaction that commits the change")
    envelope = serialize_for_outbox(event)
    # Writers of one resource queue here until the holder commits, so a later id is never committed
    # before an earlier one of the same resource: the relay, reading in id order, keeps their order.
    # pg_notify is delivered at commit, which is when the row becomes visible to the relay.
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_notify($3 || current_schema(), '')",
        RESOURCE_LOCK_CLASS,
        f"{event.resource_type}/{event.resource_id}",
        NOTIFY_CHANNEL_PREFIX,
    )
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, resource_type, resource_id, envelope)"
        " VALUES ($1, $2, $3, $4, $5)",
        uuid.UUID(event.id),
        event.subject,
        event.resource_type,
        event.resource_id,
        envelope,
    )


class EventEmitter:
    """The events of one service: <service>.<resource_type>.<verb>, each about one resource and added
    to the outbox in the transaction of the change (`enqueue`)."""

    def __init__(self, service: str) -> None:
        self.service = service

    async def emit(
        self,
        conn: asyncpg.Connection,
        resource_type: str,
        verb: str,
        resource_id,
        payload: Message,
        *,
        actor: str,
        filed_under: str = "",
    ) -> None:
        """`actor` is the user id behind the change ("" for the platform's own work). `filed_under`
        is the resource type the envelope names when it is not the type's (identity.auth.* events
        are filed under the user they concern)."""
        event = new_event(self.service, resource_type, verb, str(resource_id), payload, actor_user_id=actor)
        # Only what the contract lists, so that every consumer of all events (the audit trail) knows it.
        event_catalog.check(event.type, payload.DESCRIPTOR.full_name)
        if filed_under:
            event.resource_type = filed_under
        await enqueue(conn, event)
