"""Certificate expiry warnings: periodically, every enabled channel subscribed to
CERTIFICATE_EXPIRING is given one delivery for each certificate in its reach that expires within
its window (store/read_model.expiring_certificates), keyed on the certificate and its expiry date:
a certificate is announced once, and again only once renewed to a new date. Replicas may run it at
once: the key's uniqueness keeps each warning single."""

import asyncio
import datetime
import logging
from collections.abc import Callable

import asyncpg

from dockyard_kit.db import DATABASE_ERRORS, transaction
from services.notifications.domain import messages
from services.notifications.store import deliveries as delivery_store
from services.notifications.store import read_model

log = logging.getLogger("dockyard.notifications")


async def warn_expiring(pool: asyncpg.Pool) -> int:
    """One pass; how many deliveries it made."""
    now = datetime.datetime.now(datetime.UTC)
    async with transaction(pool) as conn:
        rows = []
        for found in await read_model.expiring_certificates(conn):
            notification = messages.certificate_notification(
                str(found["certificate_id"]),
                found["domain"],
                found["expires_at"],
                str(found["project_id"]),
                found["project_name"],
                now,
            )
            key = messages.certificate_dedupe_key(str(found["certificate_id"]), found["expires_at"])
            rows.append(
                (found["channel_id"], notification.event, key, notification.payload, notification.summary)
            )
        return await delivery_store.insert_many(conn, rows)


async def run_expiry_checks(
    pool: Callable[[], asyncpg.Pool], interval: float, wake: Callable[[], None]
) -> None:
    while True:
        try:
            if await warn_expiring(pool()):
                wake()
        except DATABASE_ERRORS as exc:
            log.warning("certificate expiry check failed; retrying", extra={"error": repr(exc)})
        await asyncio.sleep(interval)
