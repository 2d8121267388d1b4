"""Identity's events, written to the outbox in the caller's transaction: identity.<resource>.<verb>
with payloads from events.proto (built by convert.py), never a password or hash."""

import asyncpg

from dockyard_kit.events import EventEmitter
from services.identity import convert

emit = EventEmitter("identity").emit


async def user_event(
    conn: asyncpg.Connection, verb: str, row, *, actor: str, previous_role: str = ""
) -> None:
    """created, updated, role_changed (with previous_role), disabled, enabled, deleted."""
    await emit(conn, "user", verb, row["id"], convert.user_changed(row, previous_role), actor=actor)


async def team_event(conn: asyncpg.Connection, verb: str, row, *, actor: str) -> None:
    """created, updated, deleted."""
    await emit(conn, "team", verb, row["id"], convert.team_changed(row), actor=actor)


async def member_event(
    conn: asyncpg.Connection, verb: str, row, *, actor: str, previous_role: str = ""
) -> None:
    """added, role_changed (with previous_role), removed. One per membership, also when a team or a
    user is deleted, so that a read model of memberships can follow these events alone."""
    payload = convert.team_member_changed(row, previous_role)
    await emit(conn, "team_member", verb, row["id"], payload, actor=actor)


async def invitation_event(conn: asyncpg.Connection, verb: str, row, *, actor: str) -> None:
    """created, accepted (with the member's team_member.added), declined, revoked."""
    payload = convert.team_invitation_changed(row)
    await emit(conn, "team_invitation", verb, row["id"], payload, actor=actor)


async def session_revoked(conn: asyncpg.Connection, session_id, user_id, *, reason: str, actor: str) -> None:
    """identity.session.revoked: reason logout or reused; the deny-list stops its access tokens."""
    payload = convert.session_revoked(user_id, reason)
    await emit(conn, "session", "revoked", session_id, payload, actor=actor)


async def user_sessions_revoked(
    conn: asyncpg.Connection, user_id, session_ids, not_before, *, reason: str, actor: str
) -> None:
    """identity.user.sessions_revoked: every session of the user ended; the deny-list stops their
    access tokens, and any session token of the user issued before `not_before`."""
    payload = convert.user_sessions_revoked(session_ids, not_before, reason)
    await emit(conn, "user", "sessions_revoked", user_id, payload, actor=actor)


async def api_token_event(conn: asyncpg.Connection, verb: str, row, *, actor: str) -> None:
    """created, revoked."""
    await emit(conn, "api_token", verb, row["id"], convert.api_token_changed(row), actor=actor)
