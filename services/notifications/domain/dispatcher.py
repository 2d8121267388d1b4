"""The dispatcher: sends due deliveries and records each attempt. Several replicas (and tasks) may
run it at once: a delivery is claimed with FOR UPDATE SKIP LOCKED and held by a lease
(leased_until) while it is sent, so no two send it at the same time, and one whose sender crashed
mid-send is claimed again once the lease has run out. An accepted send (HTTP 2xx, or the SMTP
server took the message) ends it delivered; a refused one is tried again after the retry policy's
backoff, until the policy gives up (status failed). A crash after the receiver accepted but before
the outcome committed sends it again after the lease: at least once, with the same
X-Dockyard-Delivery id for the receiver to de-duplicate on."""

import asyncio
import dataclasses
import datetime
import json
import logging
from collections.abc import Callable

import asyncpg

from dockyard_kit import crypto
from dockyard_kit.db import DATABASE_ERRORS, transaction
from services.notifications.domain.retry import RetryPolicy
from services.notifications.domain.senders import Channel, Outcome, Senders
from services.notifications.store import deliveries as delivery_store

log = logging.getLogger("dockyard.notifications")


@dataclasses.dataclass(frozen=True)
class DispatcherSettings:
    retry: RetryPolicy
    lease_seconds: float
    poll_seconds: float
    concurrency: int


class Dispatcher:
    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        senders: Senders,
        open_secrets: Callable,
        settings: DispatcherSettings,
    ) -> None:
        self.pool = pool
        self.senders = senders
        # (channel id, sealed secrets) -> the channel's secrets.
        self.open_secrets = open_secrets
        self.settings = settings
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something is due now (a new delivery): look at once instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.dispatch_due()
            except DATABASE_ERRORS as exc:
                log.warning("dispatcher cannot reach the database; retrying", extra={"error": repr(exc)})
                sent = 0
            except Exception:
                # A fault of ours must not end the dispatcher: what it held is retried after its lease.
                log.exception("dispatcher pass failed; retrying")
                sent = 0
            if sent:
                continue  # more may be due
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def dispatch_due(self) -> int:
        """Claims what is due (as much as may be in flight at once), sends it all, records each
        outcome; returns how many were claimed."""
        async with transaction(self.pool()) as conn:
            claimed = await delivery_store.claim_due(
                conn, self.settings.concurrency, self.settings.lease_seconds
            )
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    async def _deliver(self, row) -> None:
        attempted_at = datetime.datetime.now(datetime.UTC)
        try:
            channel = Channel(
                row["channel_name"],
                row["kind"],
                json.loads(row["config"]),
                self.open_secrets(row["channel_id"], row["secrets"]),
            )
        except crypto.DecryptionError:
            outcome = Outcome(False, error="the channel's secrets cannot be opened with this service's keys")
        else:
            outcome = await self.senders.send(
                channel, str(row["id"]), json.loads(row["payload"]), row["summary"]
            )
        await self._record(row, attempted_at, outcome)

    async def _record(self, row, attempted_at: datetime.datetime, outcome: Outcome) -> None:
        attempts = row["attempts"]
        if outcome.accepted:
            status, next_attempt = "delivered", None
        else:
            now = datetime.datetime.now(datetime.UTC)
            next_attempt = self.settings.retry.next_attempt(row["created_at"], now, attempts)
            status = "pending" if next_attempt is not None else "failed"
        log.info(
            "notification attempt",
            extra={
                "delivery_id": str(row["id"]),
                "channel_id": str(row["channel_id"]),
                "attempt": attempts,
                "status": status,
                "http_status": outcome.http_status,
            },
        )
        async with transaction(self.pool()) as conn:
            await delivery_store.record_attempt(
                conn,
                row["id"],
                attempts,
                attempted_at,
                outcome.http_status,
                outcome.error,
                outcome.duration_ms,
                status=status,
                next_attempt_at=next_attempt,
            )
