"""SQL for env vars. A secret's value column holds its sealed form (dockyard_kit/sealing.py); the
applications.env_vars mirror of the non-secret ones is kept by a trigger (migration 0003)."""

import uuid

import asyncpg


async def fetch(conn: asyncpg.Connection, application_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM env_vars WHERE application_id = $1 AND key = $2", application_id, key
    )


async def all_of(conn: asyncpg.Connection, application_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM env_vars WHERE application_id = $1 ORDER BY key", application_id)


async def list_page(
    conn: asyncpg.Connection, application_id: uuid.UUID, *, after: str | None, limit: int
) -> list[asyncpg.Record]:
    """In key order, after the key `after`."""
    return await conn.fetch(
        "SELECT * FROM env_vars WHERE application_id = $1 AND ($2::text IS NULL OR key > $2)"
        " ORDER BY key LIMIT $3",
        application_id,
        after,
        limit,
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    id: uuid.UUID,
    application_id: uuid.UUID,
    key: str,
    value: str,
    is_secret: bool,
) -> asyncpg.Record:
    """`value` is already sealed (under `id`) for a secret."""
    return await conn.fetchrow(
        "INSERT INTO env_vars (id, application_id, key, value, is_secret) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        id,
        application_id,
        key,
        value,
        is_secret,
    )


async def update(
    conn: asyncpg.Connection, env_var_id: uuid.UUID, *, value: str, is_secret: bool
) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE env_vars SET value = $2, is_secret = $3, updated_at = now() WHERE id = $1 RETURNING *",
        env_var_id,
        value,
        is_secret,
    )


async def delete(conn: asyncpg.Connection, application_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "DELETE FROM env_vars WHERE application_id = $1 AND key = $2 RETURNING *", application_id, key
    )
