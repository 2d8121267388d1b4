"""The dispatcher: sends due deliveries and records each attempt. Several replicas (and tasks) may
run it at once: a delivery is claimed with FOR UPDATE SKIP LOCKED and held by a lease
(leased_until) while it is sent, so no two send it at the same time, and one whose sender crashed
mid-send is claimed again once the lease has run out. Sends run side by side, up to the
concurrency, each slot refilled as soon as it frees. An accepted send (HTTP 2xx, or the SMTP
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
        """Keeps up to `concurrency` sends in flight: each freed slot is filled with the next due
        delivery at once, so a receiver that hangs until the send timeout holds one slot, not the
        deliveries of every other channel. Cancelled (shutdown), it cancels its sends; their leases
        run out and another dispatcher sends them."""
        in_flight: set[asyncio.Task] = set()

        def finished(task: asyncio.Task) -> None:
            in_flight.discard(task)
            if not task.cancelled() and task.exception() is not None:
                # Its outcome could not be recorded (the database went away): tried again after the lease.
                log.warning("delivery attempt not recorded", extra={"error": repr(task.exception())})
            self._wake.set()  # a slot is free

        try:
            while True:
                claimed = await self._claim(self.settings.concurrency - len(in_flight))
                for row in claimed:
                    task = asyncio.create_task(self._deliver(row))
                    in_flight.add(task)
                    task.add_done_callback(finished)
                if claimed and len(in_flight) < self.settings.concurrency:
                    continue  # more may be due
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _claim(self, free: int) -> list:
        """Up to `free` due deliveries, leased to this dispatcher; none while the database is away."""
        if free <= 0:
            return []
        try:
            async with transaction(self.pool()) as conn:
                return await delivery_store.claim_due(conn, free, self.settings.lease_seconds)
        except DATABASE_ERRORS as exc:
            log.warning("dispatcher cannot reach the database; retrying", extra={"error": repr(exc)})
        except Exception:
            # A fault of ours must not end the dispatcher: what it held is retried after its lease.
            log.exception("dispatcher pass failed; retrying")
        return []

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
