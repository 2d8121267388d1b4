"""SQL for projects. Runs inside caller or platform transactions (store/session.py), so the
row-level security policies on projects apply to every statement here."""

import datetime
import json
import uuid

import asyncpg

from dockyard_kit import sql

COLUMNS = "p.id, p.name, p.description, p.owner_id, p.team_id, p.metadata, p.created_at, p.updated_at"


async def fetch_for_caller(
    conn: asyncpg.Connection, project_id: uuid.UUID, user_id: str, *, lock: bool = False
) -> asyncpg.Record | None:
    """The project with `team_role`: the caller's role in its team (None when not a member)."""
    return await conn.fetchrow(
        f"SELECT {COLUMNS}, tm.role AS team_role FROM projects p"
        " LEFT JOIN team_members tm ON tm.team_id = p.team_id AND tm.user_id = $2"
        f" WHERE p.id = $1{' FOR SHARE OF p' if lock else ''}",
        project_id,
        uuid.UUID(user_id),
    )


async def list_visible(
    conn: asyncpg.Connection,
    user_id: str,
    *,
    all_projects: bool,
    limited_to: list[uuid.UUID] | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
    search: str | None,
    team_id: uuid.UUID | None,
    metadata_contains: dict | None,
) -> list[asyncpg.Record]:
    """Projects the caller owns or shares a team with (every project for platform admins), newest
    first, after the keyset cursor `after`."""
    conditions = sql.Conditions()
    if not all_projects:
        conditions.add(
            "(p.owner_id = $? OR p.team_id IN (SELECT team_id FROM team_members WHERE user_id = $?))",
            uuid.UUID(user_id),
            uuid.UUID(user_id),
        )
    if limited_to is not None:
        conditions.add("p.id = ANY($?::uuid[])", limited_to)
    if search:
        # Substring, case-insensitive; the pattern's own wildcards are taken literally.
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.add("p.name ILIKE $?", f"%{escaped}%")
    if team_id is not None:
        conditions.add("p.team_id = $?", team_id)
    if metadata_contains is not None:
        conditions.add("p.metadata @> $?::jsonb", json.dumps(metadata_contains))
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM projects p {conditions.newest_first_page(after, limit, alias='p')}",
        *conditions.args,
    )


async def insert(
    conn: asyncpg.Connection, *, owner_id: str, name: str, description: str, team_id, metadata: dict
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO projects AS p (owner_id, name, description, team_id, metadata)"
        f" VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING {COLUMNS}",
        uuid.UUID(owner_id),
        name,
        description,
        team_id,
        json.dumps(metadata),
    )


async def update(conn: asyncpg.Connection, project_id: uuid.UUID, changes: dict) -> asyncpg.Record:
    assignments, args = sql.update_set(changes, json_columns=("metadata",))
    return await conn.fetchrow(
        f"UPDATE projects AS p SET {assignments} WHERE p.id = $1 RETURNING {COLUMNS}", project_id, *args
    )


async def delete(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    """Deletes the project (its volumes first: they RESTRICT their mounts' deletion, and the
    project takes both). The rest follows by ON DELETE CASCADE."""
    await conn.execute("DELETE FROM volumes WHERE project_id = $1", project_id)
    return await conn.fetchrow(f"DELETE FROM projects AS p WHERE p.id = $1 RETURNING {COLUMNS}", project_id)


async def stats(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record:
    """The project's row of application_stats (zeros when it has no live application), and when the
    view was refreshed."""
    return await conn.fetchrow(
        "SELECT coalesce(s.total_applications, 0) AS total_applications, coalesce(s.running, 0) AS running,"
        " coalesce(s.stopped, 0) AS stopped, coalesce(s.failed, 0) AS failed, r.refreshed_at"
        " FROM view_refreshes r LEFT JOIN application_stats s ON s.project_id = $1"
        " WHERE r.view_name = 'application_stats'",
        project_id,
    )


async def refresh_stats(conn: asyncpg.Connection) -> None:
    await conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY application_stats")
    await conn.execute("UPDATE view_refreshes SET refreshed_at = now() WHERE view_name = 'application_stats'")
