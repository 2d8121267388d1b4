"""SQL for applications. Callers authorize against the project first (domain/access.py) and only
then lock an application row, so locks are always taken project first, application second."""

import datetime
import json
import uuid

import asyncpg

from dockyard_kit import sql

JSON_COLUMNS = ("source_config", "docker_config")


async def fetch(
    conn: asyncpg.Connection, application_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT * FROM applications WHERE id = $1{' FOR UPDATE' if lock else ''}", application_id
    )


async def holder_of_name(conn: asyncpg.Connection, project_id: uuid.UUID, name: str) -> asyncpg.Record | None:
    """The application (live or archived) that holds `name` in the project."""
    return await conn.fetchrow(
        "SELECT id, status FROM applications WHERE project_id = $1 AND name = $2", project_id, name
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    id: uuid.UUID,
    project_id: uuid.UUID,
    name: str,
    type: str,
    source_type: str,
    source_config: dict,
    docker_config: dict,
    replicas: int,
    registry_password: str | None,
) -> asyncpg.Record:
    """`registry_password` is already sealed (under `id`)."""
    return await conn.fetchrow(
        "INSERT INTO applications (id, project_id, name, type, source_type, source_config, docker_config,"
        " replicas, registry_password) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9) RETURNING *",
        id,
        project_id,
        name,
        type,
        source_type,
        json.dumps(source_config),
        json.dumps(docker_config),
        replicas,
        registry_password,
    )


async def update(conn: asyncpg.Connection, application_id: uuid.UUID, changes: dict) -> asyncpg.Record:
    """Sets `changes` (column -> value; JSON columns as dicts)."""
    assignments, args = sql.update_set(changes, json_columns=JSON_COLUMNS)
    return await conn.fetchrow(
        f"UPDATE applications SET {assignments} WHERE id = $1 RETURNING *", application_id, *args
    )


async def archive(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record:
    """The seed's soft delete (projects.soft_delete_application): status archived, deleted_at set."""
    await conn.execute("SELECT soft_delete_application($1)", application_id)
    return await fetch(conn, application_id)


async def restore(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE applications SET status = 'stopped', deleted_at = NULL, updated_at = now()"
        " WHERE id = $1 RETURNING *",
        application_id,
    )


async def delete(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record:
    """Removes the row; its git source and env vars follow by ON DELETE CASCADE."""
    return await conn.fetchrow("DELETE FROM applications WHERE id = $1 RETURNING *", application_id)


async def list_in_project(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    *,
    archived: bool,
    status: str | None,
    type: str | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first. Live applications walk the partial index ix_applications_project_live."""
    conditions = sql.Conditions()
    conditions.add("project_id = $?", project_id)
    conditions.add("deleted_at IS NOT NULL" if archived else "deleted_at IS NULL")
    if status is not None:
        conditions.add("status = $?", status)
    if type is not None:
        conditions.add("type = $?", type)
    return await conn.fetch(
        f"SELECT * FROM applications {conditions.newest_first_page(after, limit)}", *conditions.args
    )
