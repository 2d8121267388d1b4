"""The read model of identity's users and team memberships (tables user_roles and team_members),
kept by domain/identity_events.py from identity's events, and the projects that identity's
deletions reach (a deleted user's projects, a deleted team's projects)."""

import uuid

import asyncpg

from services.projects.store.projects import COLUMNS


async def current_role(pool: asyncpg.Pool, user_id: str) -> str | None:
    """The user's platform role as last published by identity, or None if not seen yet."""
    return await pool.fetchval("SELECT role FROM user_roles WHERE user_id = $1", uuid.UUID(user_id))


async def upsert_user_role(conn: asyncpg.Connection, user_id: uuid.UUID, role: str) -> None:
    await conn.execute(
        "INSERT INTO user_roles (user_id, role) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()",
        user_id,
        role,
    )


async def forget_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """The user's role and memberships."""
    await conn.execute("DELETE FROM team_members WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM user_roles WHERE user_id = $1", user_id)


async def upsert_member(
    conn: asyncpg.Connection, team_id: uuid.UUID, user_id: uuid.UUID, membership_id: uuid.UUID, role: str
) -> None:
    await conn.execute(
        "INSERT INTO team_members (team_id, user_id, membership_id, role) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (team_id, user_id) DO UPDATE SET"
        " membership_id = EXCLUDED.membership_id, role = EXCLUDED.role, updated_at = now()",
        team_id,
        user_id,
        membership_id,
        role,
    )


async def remove_membership(conn: asyncpg.Connection, membership_id: uuid.UUID) -> None:
    """Only that membership: a late removal of an old one leaves a newer one of the same pair alone."""
    await conn.execute("DELETE FROM team_members WHERE membership_id = $1", membership_id)


async def forget_team(conn: asyncpg.Connection, team_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM team_members WHERE team_id = $1", team_id)


async def owned_project_ids(conn: asyncpg.Connection, owner_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM projects WHERE owner_id = $1 ORDER BY id FOR UPDATE", owner_id)
    return [row["id"] for row in rows]


async def detach_team(conn: asyncpg.Connection, team_id: uuid.UUID) -> list[asyncpg.Record]:
    """The team's projects, now without a team (the seed's SET NULL)."""
    return await conn.fetch(
        f"UPDATE projects AS p SET team_id = NULL, updated_at = now() WHERE p.team_id = $1 RETURNING {COLUMNS}",
        team_id,
    )
