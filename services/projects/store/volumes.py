"""SQL for volumes."""

import datetime
import uuid

import asyncpg


async def fetch(conn: asyncpg.Connection, volume_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM volumes WHERE id = $1", volume_id)


async def list_for_project(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    *,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, after the keyset cursor `after` (None: from the start)."""
    return await conn.fetch(
        "SELECT * FROM volumes WHERE project_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        project_id,
        *(after or (None, None)),
        limit,
    )


async def insert(conn: asyncpg.Connection, project_id: uuid.UUID, fields: dict) -> asyncpg.Record:
    """`fields`: name, type, mount_path, size_gb, application_id, database_id."""
    return await conn.fetchrow(
        "INSERT INTO volumes (project_id, name, type, mount_path, size_gb, application_id, database_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        project_id,
        fields["name"],
        fields["type"],
        fields["mount_path"],
        fields["size_gb"],
        fields["application_id"],
        fields["database_id"],
    )


async def update(conn: asyncpg.Connection, volume_id: uuid.UUID, changes: dict) -> asyncpg.Record | None:
    """`changes` maps column names (the API's updatable fields) to values."""
    assignments = [f"{column} = ${position}" for position, column in enumerate(changes, start=2)]
    return await conn.fetchrow(
        f"UPDATE volumes SET {', '.join(assignments)}, updated_at = now() WHERE id = $1 RETURNING *",
        volume_id,
        *changes.values(),
    )


async def delete(conn: asyncpg.Connection, volume_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("DELETE FROM volumes WHERE id = $1 RETURNING *", volume_id)
