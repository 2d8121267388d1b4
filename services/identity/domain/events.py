"""The events of users, teams and memberships, written to the outbox in the caller's transaction:
identity.<user|team|team_member>.<verb>, payloads from events.proto, never a password or hash."""

import asyncpg
from google.protobuf.message import Message

from dockyard_kit.events import enqueue, new_event
from services.identity import convert

SERVICE = "identity"


async def _emit(
    conn: asyncpg.Connection, resource_type: str, verb: str, resource_id, payload: Message, actor: str
):
    await enqueue(
        conn, new_event(SERVICE, resource_type, verb, str(resource_id), payload, actor_user_id=actor)
    )


async def user_event(
    conn: asyncpg.Connection, verb: str, row, *, actor: str, previous_role: str = ""
) -> None:
    """created, updated, role_changed (with previous_role), disabled, enabled, deleted."""
    await _emit(conn, "user", verb, row["id"], convert.user_changed(row, previous_role), actor)


async def team_event(conn: asyncpg.Connection, verb: str, row, *, actor: str) -> None:
    """created, updated, deleted."""
    await _emit(conn, "team", verb, row["id"], convert.team_changed(row), actor)


async def member_event(
    conn: asyncpg.Connection, verb: str, row, *, actor: str, previous_role: str = ""
) -> None:
    """added, role_changed (with previous_role), removed. One per membership, also when a team or a
    user is deleted, so that a read model of memberships can follow these events alone."""
    await _emit(conn, "team_member", verb, row["id"], convert.team_member_changed(row, previous_role), actor)
