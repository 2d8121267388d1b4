"""Alembic, applied at start-up under an advisory lock, in two chains per service schema.

The kit's chain (`dockyard_kit/kit_migrations/versions/`) makes the tables the kit owns in every
service's schema (the events backbone's outbox, inbox and parked events; the deny-list) and records
itself in the schema's `kit_alembic_version`. The service's chain (`services/<name>/migrations/
versions/`, absent for a service with no tables of its own) makes the service's tables and records
itself in the schema's `alembic_version`. Both run in one environment, `kit_migrations/env.py`, so a
service's migrations directory holds its revisions and nothing else. The kit's chain runs first: a
service's revision may rely on the kit's tables, never the other way round.

Replicas starting together wait on the lock: the first one migrates, the others find both chains at
head and go on.
"""

import dataclasses
import logging
import pathlib

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dockyard_kit.config import Settings
from dockyard_kit.db import service_connection

KIT_MIGRATIONS_DIR = pathlib.Path(__file__).parent / "kit_migrations"
KIT_VERSION_TABLE = "kit_alembic_version"
SERVICE_VERSION_TABLE = "alembic_version"

log = logging.getLogger("dockyard.migrations")


@dataclasses.dataclass(frozen=True)
class Chain:
    """One line of revisions migrated into a service's schema, and the table that records it."""

    versions_dir: pathlib.Path
    version_table: str

    def config(self, schema: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(KIT_MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(self.versions_dir))
        config.attributes["schema"] = schema
        config.attributes["version_table"] = self.version_table
        return config

    def head(self) -> str:
        """The newest revision ("" for a chain with no revisions, such as a service without tables:
        Alembic passes over a versions directory that does not exist)."""
        return ScriptDirectory.from_config(self.config("")).get_current_head() or ""


KIT_CHAIN = Chain(KIT_MIGRATIONS_DIR / "versions", KIT_VERSION_TABLE)


def service_chain(migrations_dir: pathlib.Path) -> Chain:
    return Chain(migrations_dir / "versions", SERVICE_VERSION_TABLE)


@dataclasses.dataclass(frozen=True)
class Revisions:
    """Where a schema's two chains are, or end: the kit's and the service's own ("" for none)."""

    kit: str = ""
    service: str = ""

    def __str__(self) -> str:
        """One line for status and logs, e.g. "0005_api_token_names_reusable+kit:0001_kit_tables"
        ("kit:0001_kit_tables" alone for a service without tables of its own)."""
        parts = [self.service] if self.service else []
        if self.kit:
            parts.append(f"kit:{self.kit}")
        return "+".join(parts)


def head_revision(migrations_dir: pathlib.Path) -> Revisions:
    """The heads the code knows, for a service whose revisions live under `migrations_dir`."""
    return Revisions(kit=KIT_CHAIN.head(), service=service_chain(migrations_dir).head())


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


async def upgrade_to_head(
    settings: Settings, service: str, migrations_dir: pathlib.Path
) -> tuple[Revisions, Revisions]:
    """Brings the service's schema to head, the kit's chain first, then the service's own; returns
    (revisions before, revisions after)."""
    chains = [KIT_CHAIN, service_chain(migrations_dir)]
    engine = service_engine(settings, service)
    lock_key = f"dockyard.migrate.{service}"
    try:
        async with engine.connect() as conn:
            # A session-level lock on the connection that migrates: held across Alembic's commits.
            await conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": lock_key})
            await conn.commit()
            try:
                before = await conn.run_sync(_current, service)
                for chain in chains:
                    if chain.head():
                        await conn.run_sync(_upgrade, chain.config(service))
                        await conn.commit()
                after = await conn.run_sync(_current, service)
            finally:
                await conn.rollback()  # a failed migration leaves the transaction aborted
                await conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": lock_key})
                await conn.commit()
    finally:
        await engine.dispose()
    if before != after:
        log.info(
            "migrations applied", extra={"schema": service, "from": str(before) or None, "to": str(after)}
        )
    return before, after


def _current(sync_connection, schema: str) -> Revisions:
    def applied(version_table: str) -> str:
        opts = {"version_table_schema": schema, "version_table": version_table}
        return MigrationContext.configure(sync_connection, opts=opts).get_current_revision() or ""

    return Revisions(kit=applied(KIT_VERSION_TABLE), service=applied(SERVICE_VERSION_TABLE))


def _upgrade(sync_connection, config: Config) -> None:
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


async def current_revision(conn, schema: str) -> Revisions:
    """The schema's applied revisions ("" for a chain not applied yet); `conn` is an asyncpg connection."""

    async def applied(version_table: str) -> str:
        table = f'"{schema}".{version_table}'
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            return ""
        return await conn.fetchval(f"SELECT version_num FROM {table} LIMIT 1") or ""

    return Revisions(kit=await applied(KIT_VERSION_TABLE), service=await applied(SERVICE_VERSION_TABLE))


def migrating_schema() -> str:
    """Inside a revision: the schema being migrated (the kit's revisions serve every service)."""
    return context.config.attributes["schema"]


def execute_each(statements: list[str]) -> None:
    """Inside a revision: run SQL statements in order (a revision written as plain SQL)."""
    for statement in statements:
        op.execute(statement)
