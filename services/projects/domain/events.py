"""The projects service's events, written to the outbox in the caller's transaction:
projects.<resource>.<verb> with payloads from proto/dockyard/projects/v1/events.proto. Payloads are
built by rpc/convert.py, which masks every secret exactly as the API does."""

import asyncpg
from google.protobuf.message import Message

from dockyard_kit.events import enqueue, new_event

SERVICE = "projects"


async def emit(
    conn: asyncpg.Connection, resource_type: str, verb: str, resource_id, payload: Message, *, actor: str
) -> None:
    """`actor` is the user id behind the change ("" for the platform's own work)."""
    await enqueue(
        conn, new_event(SERVICE, resource_type, verb, str(resource_id), payload, actor_user_id=actor)
    )
