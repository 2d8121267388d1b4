"""SQL for volumes."""

import datetime
import uuid

import asyncpg

from dockyard_kit import sql


async def fetch(conn: asyncpg.Connection, volume_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM volumes WHERE id = $1", volume_id)


async def list_for_project(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    *,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    conditions = sql.Conditions()
    conditions.add("project_id = $?", project_id)
    return await conn.fetch(
        f"SELECT * FROM volumes {conditions.newest_first_page(after, limit)}", *conditions.args
    )


async def insert(conn: asyncpg.Connection, project_id: uuid.UUID, fields: dict) -> asyncpg.Record:
    """`fields`: name, type, mount_path, size_gb, application_id, database_id (the trigger
    derive_volume_docker_name sets docker_name)."""
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
    assignments, args = sql.update_set(changes)
    return await conn.fetchrow(
        f"UPDATE volumes SET {assignments} WHERE id = $1 RETURNING *", volume_id, *args
    )


async def delete(conn: asyncpg.Connection, volume_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("DELETE FROM volumes WHERE id = $1 RETURNING *", volume_id)
