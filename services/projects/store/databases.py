"""SQL for managed databases. The sealed connection string is read only by `sealed_connection_string`;
every other query leaves it out."""

import datetime
import json
import uuid

import asyncpg

from dockyard_kit import sql

COLUMNS = "id, project_id, name, type, status, version, config, username, created_at, updated_at"


async def fetch(conn: asyncpg.Connection, database_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM databases WHERE id = $1", database_id)


async def sealed_connection_string(conn: asyncpg.Connection, database_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT connection_string FROM databases WHERE id = $1", database_id)


async def list_in_project(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    *,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
    db_type: str | None,
    status: str | None,
) -> list[asyncpg.Record]:
    """Newest first (index ix_databases_project_newest), after the keyset cursor `after`."""
    conditions = sql.Conditions()
    conditions.add("project_id = $?", project_id)
    if db_type is not None:
        conditions.add("type = $?", db_type)
    if status is not None:
        conditions.add("status = $?", status)
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM databases {conditions.newest_first_page(after, limit)}", *conditions.args
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    database_id: uuid.UUID,
    project_id: uuid.UUID,
    name: str,
    db_type: str,
    version: str,
    config: dict,
    username: str,
    sealed_connection: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO databases (id, project_id, name, type, version, config, username, connection_string)"
        f" VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) RETURNING {COLUMNS}",
        database_id,
        project_id,
        name,
        db_type,
        version,
        json.dumps(config),
        username,
        sealed_connection,
    )


async def update(conn: asyncpg.Connection, database_id: uuid.UUID, changes: dict) -> asyncpg.Record | None:
    """`changes` holds version and/or config; None when the database is gone."""
    assignments, args = sql.update_set(changes, json_columns=("config",))
    return await conn.fetchrow(
        f"UPDATE databases SET {assignments} WHERE id = $1 RETURNING {COLUMNS}", database_id, *args
    )


async def delete(conn: asyncpg.Connection, database_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"DELETE FROM databases WHERE id = $1 RETURNING {COLUMNS}", database_id)
