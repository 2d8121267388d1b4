"""The application_stats materialized view, refreshed CONCURRENTLY (readers never wait) every
DOCKYARD_STATS_REFRESH_SECONDS by whichever replica takes the advisory lock first."""

import asyncio
import logging

import asyncpg

from dockyard_kit import db
from dockyard_kit.server import ServiceRuntime
from services.projects.store import projects as store

log = logging.getLogger("dockyard.projects.stats")

# pg_try_advisory_xact_lock key: one refresh at a time across replicas.
REFRESH_LOCK = 0x70726A5F73746174


async def refresh_once(pool: asyncpg.Pool) -> bool:
    """Refreshes the view unless another replica is doing it; True if this call did."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", REFRESH_LOCK):
            return False
        await store.refresh_stats(conn)
        return True


async def refresh_application_stats(runtime: ServiceRuntime) -> None:
    """A background job: runs until cancelled."""
    while True:
        await asyncio.sleep(runtime.settings.DOCKYARD_STATS_REFRESH_SECONDS)
        try:
            await refresh_once(runtime.pool)
        except db.DATABASE_ERRORS as exc:
            log.warning(
                "application_stats refresh failed; retrying later", extra={"error": type(exc).__name__}
            )
