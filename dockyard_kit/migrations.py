"""Alembic, one environment per service, applied at start-up under an advisory lock.

Each service keeps its migrations in `services/<name>/migrations/` (env.py calls `run_env`), and its
version table inside its own schema. Replicas starting together wait on the lock: the first one
migrates, the others find the schema at head and go on.
"""

import logging
import pathlib

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dockyard_kit.config import Settings
from dockyard_kit.db import service_connection

VERSION_TABLE = "alembic_version"

log = logging.getLogger("dockyard.migrations")


def alembic_config(service: str, migrations_dir: pathlib.Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["schema"] = service
    return config


def head_revision(service: str, migrations_dir: pathlib.Path) -> str:
    return ScriptDirectory.from_config(alembic_config(service, migrations_dir)).get_current_head() or ""


def service_engine(settings: Settings, service: str):
    """A SQLAlchemy async engine (no pooling) connected as the service's own role."""
    params = service_connection(settings, service)
    url = sa.URL.create(
        "postgresql+asyncpg",
        username=params["user"],
        password=params["password"],
        host=params["host"],
        port=params["port"],
        database=params["database"],
    )
    connect_args = {"timeout": settings.DOCKYARD_DB_CONNECT_TIMEOUT}
    if params.get("ssl"):
        connect_args["ssl"] = params["ssl"]
    return create_async_engine(url, poolclass=NullPool, connect_args=connect_args)


async def upgrade_to_head(settings: Settings, service: str, migrations_dir: pathlib.Path) -> tuple[str, str]:
    """Brings the service's schema to head; returns (revision before, revision after)."""
    config = alembic_config(service, migrations_dir)
    engine = service_engine(settings, service)
    lock_key = f"dockyard.migrate.{service}"
    try:
        async with engine.connect() as conn:
            # A session-level lock on the connection that migrates: held across Alembic's commits.
            await conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": lock_key})
            await conn.commit()
            try:
                before = await conn.run_sync(_current, service)
                await conn.run_sync(_upgrade, config)
                await conn.commit()
                after = await conn.run_sync(_current, service)
            finally:
                await conn.rollback()  # a failed migration leaves the transaction aborted
                await conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": lock_key})
                await conn.commit()
    finally:
        await engine.dispose()
    if before != after:
        log.info("migrations applied", extra={"schema": service, "from": before or None, "to": after})
    return before, after


def _current(sync_connection, schema: str) -> str:
    return (
        MigrationContext.configure(
            sync_connection, opts={"version_table_schema": schema}
        ).get_current_revision()
        or ""
    )


def _upgrade(sync_connection, config: Config) -> None:
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


async def current_revision(conn, schema: str) -> str:
    """The schema's applied revision ("" before the first migration); `conn` is an asyncpg connection."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".{VERSION_TABLE}')
    if not exists:
        return ""
    return await conn.fetchval(f'SELECT version_num FROM "{schema}".{VERSION_TABLE} LIMIT 1') or ""


def run_env(target_metadata: sa.MetaData | None = None) -> None:
    """The body of every service's migrations/env.py: migrate on the connection handed over by
    `upgrade_to_head`, recording the version inside the service's own schema."""
    schema = context.config.attributes["schema"]
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():
        context.run_migrations()
