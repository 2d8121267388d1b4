"""PostgreSQL: each service's own schema and login role, and its asyncpg pool.

One database, one schema per service. The administrative login is used by the bootstrap step
(`python -m dockyard_kit.bootstrap`, `bootstrap_service_role`) to make sure each service's schema and
role exist; a service connects only as `dockyard_<service>`, which owns its schema and has no rights
on any other, with the password its secrets file holds (dockyard_kit/service_secrets.py).
"""

import contextlib
from collections.abc import AsyncIterator, Mapping

import asyncpg

from dockyard_kit import service_secrets
from dockyard_kit.config import Settings

# The database, not the request, failed: the link is down or the server refuses connections.
DATABASE_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)
# What a background loop survives and retries: the database unavailable, or any error it reports.
DATABASE_ERRORS = (*DATABASE_UNAVAILABLE, asyncpg.PostgresError)

# Serialises role/schema bootstrap across replicas and services starting at once.
BOOTSTRAP_LOCK_KEY = 0x646F636B  # "dock"


def role_name(service: str) -> str:
    return f"dockyard_{service}"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def connect_admin(settings: Settings) -> asyncpg.Connection:
    params = settings.admin_connection()
    return await asyncpg.connect(**params, timeout=settings.DOCKYARD_DB_CONNECT_TIMEOUT)


async def bootstrap_service_role(settings: Settings, service: str) -> None:
    """Creates (or repairs) the service's login role and schema, as the administrative login with
    the master secret (the role's password derives from it). Idempotent and safe to run from several
    processes at once, and while the service runs (the password stays the same)."""
    role = _quote_ident(role_name(service))
    schema = _quote_ident(service)
    # The password is hex (derived by HMAC), so it is safe inside a literal; it is never logged.
    password = settings.service_role_password(service)
    conn = await connect_admin(settings)
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute("SELECT pg_advisory_lock($1)", BOOTSTRAP_LOCK_KEY)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role_name(service))
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                f"PASSWORD '{password}'"
            )
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
            await conn.execute(f"ALTER ROLE {role} SET search_path = {schema}")
            # Nobody but the owner (and the administrative login) may use another schema, and the
            # shared `public` schema is closed to everyone.
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            await conn.execute(f"REVOKE ALL ON DATABASE {_quote_ident(database)} FROM PUBLIC")
            await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {_quote_ident(database)} TO {role}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", BOOTSTRAP_LOCK_KEY)
    finally:
        await conn.close()


def service_connection(settings: Settings, service: str) -> dict:
    """Keyword arguments for asyncpg as the service's own role: where the database is from the
    settings (any administrative user and password there are not used), the password from the
    service's secrets (service_secrets.for_service)."""
    params = settings.admin_connection()
    params["user"] = role_name(service)
    params["password"] = service_secrets.for_service(settings, service).database_password
    return params


async def create_pool(settings: Settings, service: str, **options) -> asyncpg.Pool:
    """The service's pool. min_size=0 so that a pool exists (and the service can report
    NOT_SERVING) while the database is down."""
    return await asyncpg.create_pool(
        **service_connection(settings, service),
        min_size=0,
        max_size=settings.DOCKYARD_DB_POOL_MAX,
        max_inactive_connection_lifetime=settings.DOCKYARD_DB_POOL_IDLE_SECONDS,
        timeout=settings.DOCKYARD_DB_CONNECT_TIMEOUT,
        command_timeout=30,
        server_settings={"search_path": service, "application_name": f"dockyard-{service}"},
        **options,
    )


class SessionConnection(asyncpg.Connection):
    """A connection that remembers the session settings a SessionPool last gave it, and the name of
    every setting it was ever given."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._kept_settings: tuple[tuple[str, str], ...] | None = None
        self._names_given: set[str] = set()

    def names_given(self) -> set[str]:
        return self._names_given

    def kept_settings(self) -> tuple[tuple[str, str], ...] | None:
        return self._kept_settings

    def keep_settings(self, settings: tuple[tuple[str, str], ...] | None) -> None:
        self._kept_settings = settings


class SessionPool:
    """Connections for reads that run with session settings, such as who is asking for row-level
    security (app.user_id): a read states the settings it needs; a connection that has them already
    is handed out as it is, any other gets them first in one round trip. Released connections keep
    their settings (no reset query): only `acquire` below hands them out, and it always states the
    settings, and empties any an earlier read stated that this one does not, so no read ever runs
    with another's. asyncpg still rolls back a transaction left open.

    For reads only: a change and its outbox event go through the service's main pool, in a
    transaction (`transaction`), whose settings are local to it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def acquire(self, settings: Mapping[str, str]) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            stated = {name: "" for name in conn.names_given()} | dict(settings)
            wanted = tuple(sorted(stated.items()))
            if conn.kept_settings() != wanted:
                conn.keep_settings(None)  # unknown until the statement below succeeds
                calls = ", ".join(
                    f"set_config(${2 * i + 1}, ${2 * i + 2}, false)" for i in range(len(wanted))
                )
                # One statement: if it fails, it changed nothing (settings are transactional).
                await conn.execute(f"SELECT {calls}", *(part for setting in wanted for part in setting))
                conn.names_given().update(stated)
                conn.keep_settings(wanted)
            yield conn

    async def close(self) -> None:
        await self.pool.close()

    def terminate(self) -> None:
        self.pool.terminate()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """SessionPool's release: nothing beyond asyncpg's own (rollback, listeners)."""


async def create_session_pool(settings: Settings, service: str) -> SessionPool:
    return SessionPool(
        await create_pool(settings, service, connection_class=SessionConnection, reset=_keep_session)
    )


@contextlib.asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, isolation: str = "read_committed"
) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction: the unit of work that an RPC's change and its outbox
    event share."""
    async with pool.acquire() as conn, conn.transaction(isolation=isolation):
        yield conn
