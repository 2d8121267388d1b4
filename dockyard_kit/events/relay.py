"""The outbox relay: publishes committed outbox rows to JetStream, in id order, at least once.

One relay per schema is active at a time: the leader holds a session advisory lock on a connection
of its own and does all its work on that connection, so losing the connection ends its leadership
and its claims together. Replicas stand by and take over when the lock frees up.

At least once, and no more than once in the stream: a row is marked published only after JetStream
acknowledged it, so a relay that dies in between publishes it again, with the event id as
`Nats-Msg-Id`, and JetStream drops the copy (see DUPLICATE_WINDOW_SECONDS).
"""

import asyncio
import contextlib
import datetime
import logging

import asyncpg
import nats.errors
import nats.js.errors

from dockyard_kit.db import DATABASE_ERRORS
from dockyard_kit.events.nats import NatsLink
from dockyard_kit.events.outbox import notify_channel

log = logging.getLogger("dockyard.events")

# Failures of the database or of the connection to it.

# Whether a claim would find anything: while nothing waits, a poll is this one statement, not a
# transaction that locks (the partial index on unpublished rows answers it).
_ANY_PENDING = "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"

_CLAIM = """
    SELECT id, event_id, subject, envelope FROM outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""


def next_backoff(current: float, *, initial: float, cap: float) -> float:
    """Exponential back-off: `initial`, doubling, at most `cap`."""
    return initial if current <= 0 else min(current * 2, cap)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        link: NatsLink,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.2,
        standby_interval: float = 1.0,
        publish_timeout: float = 2.0,
        max_backoff: float = 2.0,
        retention: datetime.timedelta = datetime.timedelta(days=1),
        cleanup_interval: float = 600.0,
    ) -> None:
        self.pool = pool
        self.link = link
        self.batch_size = batch_size
        # Rows committed by other processes (no NOTIFY reaches us from a lost connection, say) are
        # found by polling at this interval.
        self.poll_interval = poll_interval
        self.standby_interval = standby_interval
        self.publish_timeout = publish_timeout
        self.max_backoff = max_backoff
        self.retention = retention
        self.cleanup_interval = cleanup_interval
        self.leading = False

    async def run(self) -> None:
        """Competes for leadership and relays while leader; runs until cancelled."""
        backoff = 0.0
        standing_by = False
        while True:
            try:
                async with self.pool.acquire() as conn:
                    schema = await conn.fetchval("SELECT current_schema()")
                    if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _lock_name(schema)):
                        backoff = 0.0
                        standing_by = False
                        await self._lead(conn, schema)
                    elif not standing_by:
                        standing_by = True
                        log.info("outbox relay standing by", extra={"schema": schema})
                # Releasing the connection resets it, which frees the lock.
                await asyncio.sleep(self.standby_interval)
            except Exception as exc:
                # The relay steps down (its lock goes with its connection), waits, and competes again.
                backoff = next_backoff(backoff, initial=0.5, cap=5.0)
                level = logging.WARNING if isinstance(exc, DATABASE_ERRORS) else logging.ERROR
                log.log(
                    level,
                    "outbox relay interrupted; retrying",
                    exc_info=level == logging.ERROR,
                    extra={"error": type(exc).__name__, "retry_in_s": backoff},
                )
                await asyncio.sleep(backoff)

    async def _lead(self, conn: asyncpg.Connection, schema: str) -> None:
        self.leading = True
        log.info("outbox relay leading", extra={"schema": schema})
        wake = asyncio.Event()
        channel = notify_channel(schema)

        def notified(*_) -> None:
            wake.set()

        await conn.add_listener(channel, notified)
        backoff = 0.0
        next_cleanup = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                if loop.time() >= next_cleanup:
                    await self._clean_up(conn)
                    next_cleanup = loop.time() + self.cleanup_interval
                if not self.link.connected:
                    log.warning("NATS unavailable; outbox relay waiting")
                    await self.link.wait_connected()
                wake.clear()
                claimed, failure = await self._relay_batch(conn)
                if failure is not None:
                    backoff = next_backoff(backoff, initial=0.1, cap=self.max_backoff)
                    log.warning(
                        "publishing failed; outbox relay backing off",
                        extra={"error": failure, "retry_in_s": backoff},
                    )
                    await asyncio.sleep(backoff)
                    continue
                backoff = 0.0
                if claimed < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_interval)
        finally:
            self.leading = False
            # A broken connection has no listener left to remove; the pool discards it anyway.
            with contextlib.suppress(*DATABASE_ERRORS):
                await conn.remove_listener(channel, notified)

    async def _relay_batch(self, conn: asyncpg.Connection) -> tuple[int, str | None]:
        """Publishes the oldest unpublished rows in id order and marks those JetStream acknowledged
        up to the first failure. The publishes of a batch are in flight together (one connection
        sends them in id order, and the stream stores them in the order it receives them), so a
        batch costs one round trip, not one per row; a row after a failed one stays unmarked and is
        published again behind it (the stream drops the copy it already has, by Nats-Msg-Id).
        Returns (rows claimed, failure or None)."""
        try:
            await self.link.ensure_stream()
        except (nats.errors.Error, TimeoutError) as exc:
            return 0, _describe(exc)
        if not await conn.fetchval(_ANY_PENDING):
            return 0, None
        published: list[int] = []
        duplicates = 0
        failure = None
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            acks = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
            for row, ack in zip(rows, acks, strict=True):
                if isinstance(ack, nats.errors.Error | TimeoutError):
                    if isinstance(ack, nats.js.errors.NoStreamResponseError):
                        self.link.stream_missing()
                    failure = _describe(ack)
                    break
                if isinstance(ack, BaseException):
                    raise ack
                published.append(row["id"])
                duplicates += bool(ack.duplicate)
            if published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", published
                )
        if duplicates:
            log.info("stream dropped re-published events", extra={"duplicates": duplicates})
        if published:
            log.debug("outbox rows published", extra={"published": len(published)})
        return len(rows), failure

    async def _publish(self, row):
        return await self.link.js.publish(
            row["subject"],
            row["envelope"],
            timeout=self.publish_timeout,
            stream=self.link.stream,
            headers={"Nats-Msg-Id": str(row["event_id"])},
        )

    async def _clean_up(self, conn: asyncpg.Connection) -> None:
        deleted = await conn.fetchval(
            "WITH gone AS (DELETE FROM outbox WHERE published_at < now() - $1::interval RETURNING 1)"
            " SELECT count(*) FROM gone",
            self.retention,
        )
        if deleted:
            log.info("published outbox rows cleaned up", extra={"deleted": deleted})


def _lock_name(schema: str) -> str:
    return f"dockyard.outbox-relay.{schema}"


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
