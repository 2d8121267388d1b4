"""The delivery log's retention: delivered and given-up deliveries older than
DOCKYARD_NOTIFICATIONS_DELIVERY_RETENTION_DAYS go, with their attempts, a batch at a time, hourly.
Pending ones never do (the dispatcher gives them up first). Replicas may purge at once: each batch
is one DELETE."""

import asyncio
import datetime
import logging
from collections.abc import Callable

import asyncpg

from dockyard_kit.db import DATABASE_ERRORS
from services.notifications.store import deliveries as delivery_store

log = logging.getLogger("dockyard.notifications")

PURGE_INTERVAL_SECONDS = 3600.0
# Rows one DELETE removes: a large backlog holds its locks and WAL a batch at a time.
PURGE_BATCH_ROWS = 5000


async def purge_old_deliveries(pool: asyncpg.Pool, retention: datetime.timedelta) -> int:
    """One pass, until nothing is left to purge; how many deliveries went."""
    purged = 0
    while True:
        async with pool.acquire() as conn:
            gone = await delivery_store.purge_finished(conn, retention, PURGE_BATCH_ROWS)
        purged += gone
        if gone < PURGE_BATCH_ROWS:
            return purged


async def run_delivery_purges(pool: Callable[[], asyncpg.Pool], retention: datetime.timedelta) -> None:
    while True:
        try:
            purged = await purge_old_deliveries(pool(), retention)
            if purged:
                log.info("purged old deliveries", extra={"deliveries": purged})
        except DATABASE_ERRORS as exc:
            log.warning("purging old deliveries failed; retrying", extra={"error": repr(exc)})
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
