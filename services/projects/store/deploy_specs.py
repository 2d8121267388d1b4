"""SQL for the deployer's reads (domain/deploy_specs.py): an application with everything a
deployment of it needs, and the git source a webhook names. The caller holds the transaction."""

import uuid

import asyncpg


async def application(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM applications WHERE id = $1", application_id)


async def env_vars(conn: asyncpg.Connection, application_id: uuid.UUID) -> list[asyncpg.Record]:
    """id, key, value (sealed when is_secret), is_secret."""
    return await conn.fetch(
        "SELECT id, key, value, is_secret FROM env_vars WHERE application_id = $1 ORDER BY key",
        application_id,
    )


async def volumes(conn: asyncpg.Connection, application_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT docker_name, mount_path FROM volumes WHERE application_id = $1 ORDER BY mount_path, id",
        application_id,
    )


async def git_source(conn: asyncpg.Connection, application_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM git_sources WHERE application_id = $1", application_id)


async def webhook_target(conn: asyncpg.Connection, git_source_id: uuid.UUID) -> asyncpg.Record | None:
    """The git source with its application's project and status."""
    return await conn.fetchrow(
        "SELECT g.id, g.application_id, g.provider, g.branch, g.webhook_secret,"
        " a.project_id, a.status AS application_status"
        " FROM git_sources g JOIN applications a ON a.id = g.application_id WHERE g.id = $1",
        git_source_id,
    )
