"""Identity's periodic clean-up of credentials that can no longer do anything: expired refresh
tokens, and throttle counters whose window and lock have ended (a guesser spraying names would
otherwise grow that table without bound). Expired signing keys go during key maintenance."""

import asyncio
import logging

from dockyard_kit import db
from dockyard_kit.server import ServiceRuntime
from services.identity.domain import sessions, throttle
from services.identity.domain.tokens import utcnow

log = logging.getLogger("dockyard.identity.housekeeping")

PERIOD_SECONDS = 600


async def purge_expired_credentials(runtime: ServiceRuntime) -> None:
    """A background job: runs every PERIOD_SECONDS until cancelled."""
    while True:
        now = utcnow()
        try:
            counters = await throttle.purge_stale(runtime.pool, now)
            refresh_tokens = await sessions.purge_expired(runtime.pool, now)
            if counters or refresh_tokens:
                log.info("purged", extra={"throttle_counters": counters, "refresh_tokens": refresh_tokens})
        except db.DATABASE_ERRORS as exc:
            log.warning("purge failed; retrying later", extra={"error": type(exc).__name__})
        await asyncio.sleep(PERIOD_SECONDS)
