"""Parked events: messages a consumer's handler kept failing on, kept for an operator to look at and
replay once the handler is fixed (`python -m dockyard_kit.events parked --help`)."""

import dataclasses
import datetime
import uuid

import asyncpg

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.db import transaction
from dockyard_kit.events.consumer import Handler, apply_once


@dataclasses.dataclass(frozen=True)
class ParkedEvent:
    id: int
    consumer: str
    event_id: uuid.UUID
    subject: str
    error: str
    deliveries: int
    parked_at: datetime.datetime
    replayed_at: datetime.datetime | None


async def list_parked(
    pool: asyncpg.Pool, *, consumer: str | None = None, include_replayed: bool = False
) -> list[ParkedEvent]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, consumer, event_id, subject, error, deliveries, parked_at, replayed_at"
            " FROM parked_events"
            " WHERE ($1::text IS NULL OR consumer = $1) AND ($2 OR replayed_at IS NULL)"
            " ORDER BY id",
            consumer,
            include_replayed,
        )
    return [ParkedEvent(**row) for row in rows]


async def replay_parked(pool: asyncpg.Pool, parked_id: int, handler: Handler) -> bool:
    """Runs the consumer's handler on a parked event, once: if the inbox already has the event (an
    earlier replay), the effect is not applied again. Marks the event replayed either way. Returns
    whether the handler ran; a failing handler leaves the event parked and raises."""
    async with transaction(pool) as conn:
        row = await conn.fetchrow(
            "SELECT consumer, payload FROM parked_events WHERE id = $1 FOR UPDATE", parked_id
        )
        if row is None:
            raise LookupError(f"no parked event with id {parked_id}")
        applied = await apply_once(conn, row["consumer"], Event.FromString(row["payload"]), handler)
        await conn.execute("UPDATE parked_events SET replayed_at = now() WHERE id = $1", parked_id)
    return applied
