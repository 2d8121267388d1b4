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

A service migrates in a child process, `python -m dockyard_kit.migrations upgrade <service>
<migrations_dir>` (dockyard_kit/server.py), so that Alembic, SQLAlchemy and Mako never load into the
process that serves; the child reads the same environment and answers with one JSON line on stdout:
{"from": ..., "to": ...} once the schema is at head, or {"error": ..., "login_refused": ...} with exit
status EXIT_DATABASE_ERROR when the database failed (the service retries). What a running service
needs to know about revisions is in dockyard_kit/revisions.py.
"""

import asyncio
import dataclasses
import json
import pathlib
import sys

import asyncpg
import sqlalchemy as sa
import sqlalchemy.exc
from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dockyard_kit import config, db
from dockyard_kit.config import Settings
from dockyard_kit.db import service_connection
from dockyard_kit.revisions import (
    KIT_MIGRATIONS_DIR,
    KIT_VERSION_TABLE,
    KIT_VERSIONS_DIR,
    SERVICE_VERSION_TABLE,
    Revisions,
    current_revision,
)

__all__ = [
    "KIT_VERSION_TABLE",
    "SERVICE_VERSION_TABLE",
    "Revisions",
    "current_revision",
    "execute_each",
    "head_revision",
    "migrating_schema",
    "service_engine",
    "upgrade_to_head",
]

# The child's exit status when the database failed: the service retries.
EXIT_DATABASE_ERROR = 3


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


KIT_CHAIN = Chain(KIT_VERSIONS_DIR, KIT_VERSION_TABLE)


def service_chain(migrations_dir: pathlib.Path) -> Chain:
    return Chain(migrations_dir / "versions", SERVICE_VERSION_TABLE)


def head_revision(migrations_dir: pathlib.Path) -> Revisions:
    """The heads Alembic finds, for a service whose revisions live under `migrations_dir` (what
    revisions.head_revision reads without Alembic)."""
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
    return before, after


def _current(sync_connection, schema: str) -> Revisions:
    def applied(version_table: str) -> str:
        opts = {"version_table_schema": schema, "version_table": version_table}
        return MigrationContext.configure(sync_connection, opts=opts).get_current_revision() or ""

    return Revisions(kit=applied(KIT_VERSION_TABLE), service=applied(SERVICE_VERSION_TABLE))


def _upgrade(sync_connection, config: Config) -> None:
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


def migrating_schema() -> str:
    """Inside a revision: the schema being migrated (the kit's revisions serve every service)."""
    return context.config.attributes["schema"]


def execute_each(statements: list[str]) -> None:
    """Inside a revision: run SQL statements in order (a revision written as plain SQL)."""
    for statement in statements:
        op.execute(statement)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _upgrade_and_report(service: str, migrations_dir: pathlib.Path) -> int:
    settings = config.load()
    try:
        before, after = await upgrade_to_head(settings, service, migrations_dir)
    # SQLAlchemy wraps what asyncpg raised; the service is told about asyncpg's error.
    except (*db.DATABASE_ERRORS, sqlalchemy.exc.DBAPIError) as raised:
        exc = raised
        if isinstance(raised, sqlalchemy.exc.DBAPIError) and raised.orig is not None:
            exc = raised.orig.__cause__ or raised
        login_refused = isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError)
        print(json.dumps({"error": _describe(exc), "login_refused": login_refused}), flush=True)
        return EXIT_DATABASE_ERROR
    print(json.dumps({"from": str(before), "to": str(after)}), flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "upgrade":
        sys.stderr.write("usage: python -m dockyard_kit.migrations upgrade <service> <migrations_dir>\n")
        return 2
    return asyncio.run(_upgrade_and_report(argv[1], pathlib.Path(argv[2])))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
