"""SQL for git sources (one per application)."""

import json
import uuid

import asyncpg

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
    assignments, args = [], [application_id]
    for column, value in changes.items():
        json_column = column in JSON_COLUMNS
        args.append(json.dumps(value) if json_column else value)
        assignments.append(f"{column} = ${len(args)}{'::jsonb' if json_column else ''}")
    return await conn.fetchrow(
        f"UPDATE git_sources SET {', '.join(assignments)}, updated_at = now() WHERE application_id = $1 RETURNING *",
        *args,
    )


async def delete(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "DELETE FROM git_sources WHERE application_id = $1 RETURNING *", application_id
    )
