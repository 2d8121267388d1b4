"""SQL for git sources (one per application)."""

import json
import uuid

import asyncpg

from dockyard_kit import sql

JSON_COLUMNS = ("webhook_config",)


async def fetch(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM git_sources WHERE application_id = $1", application_id)


async def insert(
    conn: asyncpg.Connection,
    *,
    id: uuid.UUID,
    application_id: uuid.UUID,
    provider: str,
    repository: str,
    branch: str,
    commit_sha: str | None,
    webhook_config: dict,
    webhook_secret: str,
) -> asyncpg.Record:
    """`webhook_secret` is already sealed (under `id`)."""
    return await conn.fetchrow(
        "INSERT INTO git_sources (id, application_id, provider, repository, branch, commit_sha,"
        " webhook_config, webhook_secret) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) RETURNING *",
        id,
        application_id,
        provider,
        repository,
        branch,
        commit_sha,
        json.dumps(webhook_config),
        webhook_secret,
    )


async def update(conn: asyncpg.Connection, application_id: uuid.UUID, changes: dict) -> asyncpg.Record:
    assignments, args = sql.update_set(changes, json_columns=JSON_COLUMNS)
    return await conn.fetchrow(
        f"UPDATE git_sources SET {assignments} WHERE application_id = $1 RETURNING *", application_id, *args
    )


async def delete(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "DELETE FROM git_sources WHERE application_id = $1 RETURNING *", application_id
    )
