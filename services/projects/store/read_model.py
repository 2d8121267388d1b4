"""The read model of identity's users and team memberships (tables user_roles and team_members),
kept by domain/identity_events.py from identity's events."""

import uuid

import asyncpg


async def current_role(pool: asyncpg.Pool, user_id: str) -> str | None:
    """The user's platform role as last published by identity, or None if not seen yet."""
    return await pool.fetchval("SELECT role FROM user_roles WHERE user_id = $1", uuid.UUID(user_id))
