"""The projects that identity's deletions reach (a deleted user's projects, a deleted team's
projects). The read model of identity's users and team memberships itself is the kit's
(dockyard_kit/identity_read_model.py)."""

import uuid

import asyncpg

from services.projects.store.projects import COLUMNS


async def owned_project_ids(conn: asyncpg.Connection, owner_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM projects WHERE owner_id = $1 ORDER BY id FOR UPDATE", owner_id)
    return [row["id"] for row in rows]


async def detach_team(conn: asyncpg.Connection, team_id: uuid.UUID) -> list[asyncpg.Record]:
    """The team's projects, now without a team (the seed's SET NULL)."""
    return await conn.fetch(
        f"UPDATE projects AS p SET team_id = NULL, updated_at = now() WHERE p.team_id = $1 RETURNING {COLUMNS}",
        team_id,
    )
