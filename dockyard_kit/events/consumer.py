"""Consuming events: a durable JetStream pull consumer whose effects apply once per event.

For each message, a transaction records the event id in the inbox and runs the handler, and only
after it commits is the message acked. A redelivery (lost ack, crash before the ack, a duplicate
publish) finds the inbox row and skips the effect. A handler that keeps failing has its message
parked (see parked.py) after `max_deliver` deliveries, and the consumer goes on with the next one.

With `batch=N` (N > 1), up to N messages are in flight and fetched together, and one transaction
applies them all. When a handler fails, the batch is applied again with each message in a savepoint
of its own, so that the failing one undoes only its own effect and inbox row (its handler and the
others' run twice, the first time rolled back), and its message is nak'd (or parked) after the
others committed. This is for consumers
that must keep up with a high rate (one commit per batch instead of per event); the price is that a
retried event may then apply after later ones of the same resource.
"""

import asyncio
import dataclasses
import logging
import re
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import asyncpg
import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.db import DATABASE_ERRORS, DATABASE_UNAVAILABLE, transaction
from dockyard_kit.events.nats import NatsLink
from dockyard_kit.events.relay import next_backoff

log = logging.getLogger("dockyard.events")

# Applies an event's effect with `conn`, inside the transaction that also records it in the inbox.
Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]


class Deferred(Protocol):
    """Effects a handler gathers instead of writing them one event at a time (the audit trail's
    entries): `write` puts what was gathered in the transaction, at once (one statement for a whole
    batch), before it commits; `discard` forgets what was gathered, when a try is rolled back. With
    savepoints (a batch retried after a failure), `write` runs after each event, inside its own
    savepoint, so that a failure undoes only that event."""

    def discard(self) -> None: ...

    async def write(self, conn: asyncpg.Connection) -> None: ...


# While messages flow, a fetch takes what the server has at once and waits this long at most for more.
FLOWING_FETCH_TIMEOUT = 0.1

_CONSUMER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

_PARK = """
    INSERT INTO parked_events (consumer, event_id, subject, payload, error, deliveries)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (consumer, event_id) DO UPDATE SET
        subject = EXCLUDED.subject, payload = EXCLUDED.payload, error = EXCLUDED.error,
        deliveries = EXCLUDED.deliveries, parked_at = now(), replayed_at = NULL
"""


def check_consumer_name(name: str) -> str:
    """A consumer's name is part of its JetStream durable name, which allows no dots or wildcards."""
    if not _CONSUMER_NAME.fullmatch(name):
        raise ValueError(f"consumer name must match {_CONSUMER_NAME.pattern}, got {name!r}")
    return name


def durable_name(service: str, consumer: str) -> str:
    """The JetStream durable consumer of one service's consumer, e.g. "audit-trail"."""
    return f"{service}-{check_consumer_name(consumer)}"


async def fresh_in_inbox(conn: asyncpg.Connection, consumer: str, events: Sequence[Event]) -> set[str]:
    """Records the events in the inbox, in one statement, and returns the ids of those it did not
    hold yet (an id twice in `events` counts once); the caller holds the transaction."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        [uuid.UUID(event.id) for event in events],
    )
    return {str(row["event_id"]) for row in rows}


async def apply_once(conn: asyncpg.Connection, consumer: str, event: Event, handler: Handler) -> bool:
    """Runs `handler` unless the inbox says this consumer already did; the caller holds the
    transaction. Returns whether the handler ran."""
    fresh = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        uuid.UUID(event.id),
    )
    if fresh:
        await handler(conn, event)
    return bool(fresh)


class _RolledBack(Exception):
    """A handler failed in a batch applied without savepoints: the transaction rolls back."""


@dataclasses.dataclass
class _Delivery:
    """A fetched message, its event, and what applying it came to."""

    msg: Msg
    event: Event
    applied: bool = False
    failure: Exception | None = None


class EventConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        link: NatsLink,
        name: str,
        subjects: Sequence[str],
        handler: Handler,
        *,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        retry_delay: float = 1.0,
        fetch_timeout: float = 5.0,
        after_commit: Callable[[Event], None] | None = None,
        batch: int = 1,
        deferred: Deferred | None = None,
    ) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.pool = pool
        self.link = link
        self.name = check_consumer_name(name)
        self.subjects = list(subjects)
        self.handler = handler
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.fetch_timeout = fetch_timeout
        # Runs once an event's effect has committed (in-memory state that must follow it).
        self.after_commit = after_commit
        # Messages in flight and applied in one transaction; 1 keeps each resource's events in order.
        self.batch = batch
        self.deferred = deferred
        self.durable: str | None = None
        self._subscription = None

    async def run(self) -> None:
        """Fetches and handles messages, `batch` at a time at most, until cancelled."""
        self.durable = durable_name(await self._schema(), self.name)
        set_up_generation = -1
        backoff = 0.0
        flowing = False
        while True:
            if not self.link.connected:
                await self.link.wait_connected()
            try:
                if set_up_generation != self.link.generation:
                    generation = self.link.generation
                    await self._set_up()
                    set_up_generation = generation
                # Idle, a fetch of one returns as soon as a message comes (a fetch of N would wait out
                # its timeout for the rest); while messages flow, a batch takes what is there.
                size, timeout = (self.batch, FLOWING_FETCH_TIMEOUT) if flowing else (1, self.fetch_timeout)
                messages = await self._subscription.fetch(size, timeout=timeout)
            except nats.errors.TimeoutError:
                backoff = 0.0
                flowing = False
                continue  # nothing to do, or NATS went away mid-fetch: try again
            except (nats.errors.Error, TimeoutError) as exc:
                # The consumer or stream may be gone (deleted, a server without its store): set up again.
                set_up_generation = -1
                backoff = next_backoff(backoff, initial=0.2, cap=2.0)
                log.warning(
                    "event consumer cannot fetch; retrying",
                    extra={"consumer": self.durable, "error": str(exc) or type(exc).__name__},
                )
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            flowing = self.batch > 1
            await self._handle(messages)

    async def _schema(self) -> str:
        backoff = 0.0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    return await conn.fetchval("SELECT current_schema()")
            except DATABASE_ERRORS as exc:
                backoff = next_backoff(backoff, initial=0.5, cap=5.0)
                log.warning("event consumer waiting for the database", extra={"error": repr(exc)})
                await asyncio.sleep(backoff)

    async def _set_up(self) -> None:
        await self.link.ensure_stream()
        await self.link.js.add_consumer(
            self.link.stream,
            ConsumerConfig(
                name=self.durable,
                durable_name=self.durable,
                filter_subjects=self.subjects,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                # With one message in flight, the next one is not delivered until this one is acked
                # or parked, so a redelivered event never lands after a later one (per-resource order).
                max_ack_pending=self.batch,
            ),
        )
        if self._subscription is None:
            # A core subscription: the client re-subscribes it by itself after a reconnect.
            self._subscription = await self.link.js.pull_subscribe_bind(
                consumer=self.durable, stream=self.link.stream
            )
        log.info("event consumer ready", extra={"consumer": self.durable, "subjects": self.subjects})

    async def _handle(self, messages: list[Msg]) -> None:
        """Applies the messages in one transaction, then acks, naks or parks each."""
        deliveries = [delivery for msg in messages if (delivery := await self._decode(msg)) is not None]
        if not deliveries:
            return
        try:
            if not await self._apply(deliveries, savepoints=False) and len(deliveries) > 1:
                await self._apply(deliveries, savepoints=True)
        # The database, not a handler, failed: retry them all without counting towards parking.
        except DATABASE_UNAVAILABLE as exc:
            log.warning(
                "database unavailable; events will be redelivered",
                extra={"consumer": self.durable, "events": len(deliveries), "error": repr(exc)},
            )
            for delivery in deliveries:
                await _settle(delivery.msg.nak(delay=self.retry_delay))
            return
        for delivery in deliveries:
            await self._conclude(delivery)

    async def _decode(self, msg: Msg) -> _Delivery | None:
        """The message's delivery, or None once an undecodable message is parked."""
        try:
            event = Event.FromString(msg.data)
            uuid.UUID(event.id)
        except (DecodeError, ValueError) as exc:
            await self._park(msg, _message_id(msg), f"undecodable event: {exc}", msg.metadata.num_delivered)
            return None
        return _Delivery(msg, event)

    async def _apply(self, deliveries: list[_Delivery], *, savepoints: bool) -> bool:
        """Applies the deliveries in one transaction. Without savepoints (the usual first try: each
        savepoint costs round trips and a subtransaction, of which PostgreSQL caches only 64 per
        transaction), the inbox takes the whole batch in one statement and a failing handler rolls
        back them all: then returns False. With savepoints, a failing handler rolls back only its own
        effect and inbox row and the others commit."""
        try:
            async with transaction(self.pool) as conn:
                if self.deferred is not None:
                    self.deferred.discard()
                if savepoints:
                    for delivery in deliveries:
                        await self._apply_in_savepoint(conn, delivery)
                else:
                    await self._apply_together(conn, deliveries)
        except _RolledBack:
            for delivery in deliveries:
                delivery.applied = False
            return False
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:  # the commit refused (a deferred constraint, say): nothing applied
            for delivery in deliveries:
                delivery.applied, delivery.failure = False, exc
        return True

    async def _apply_together(self, conn: asyncpg.Connection, deliveries: list[_Delivery]) -> None:
        fresh = await fresh_in_inbox(conn, self.name, [delivery.event for delivery in deliveries])
        current = None
        try:
            for current in deliveries:
                current.applied, current.failure = False, None
                if current.event.id in fresh:
                    fresh.discard(current.event.id)  # a second copy in the batch is skipped
                    await self.handler(conn, current.event)
                    current.applied = True
            current = None
            if self.deferred is not None:
                await self.deferred.write(conn)
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            # A handler's failure is its event's; a failed write is every event's (a batch is then
            # retried event by event, which finds out whose it was).
            for delivery in [current] if current is not None else deliveries:
                delivery.failure = exc
            raise _RolledBack from exc

    async def _apply_in_savepoint(self, conn: asyncpg.Connection, delivery: _Delivery) -> None:
        delivery.applied, delivery.failure = False, None
        try:
            async with conn.transaction():
                delivery.applied = await apply_once(conn, self.name, delivery.event, self.handler)
                if self.deferred is not None:
                    await self.deferred.write(conn)
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            delivery.applied, delivery.failure = False, exc
            if self.deferred is not None:
                self.deferred.discard()

    async def _conclude(self, delivery: _Delivery) -> None:
        """After the commit: acks what committed, naks or parks what failed."""
        msg, event = delivery.msg, delivery.event
        if delivery.failure is None:
            if delivery.applied and self.after_commit is not None:
                self.after_commit(event)
            await self._acknowledge(msg)
            return
        # Parsed from the reply subject on every access, so only for a failure.
        delivered = msg.metadata.num_delivered
        if delivered >= self.max_deliver:
            await self._park(msg, uuid.UUID(event.id), _failure(delivery.failure), delivered)
        else:
            # The exception text may quote data; it is kept for operators in parked_events only.
            log.warning(
                "event handler failed; event will be redelivered",
                extra={
                    "consumer": self.durable,
                    "event_id": event.id,
                    "type": event.type,
                    "delivered": delivered,
                    "error": type(delivery.failure).__name__,
                },
            )
            await _settle(msg.nak(delay=self.retry_delay))

    async def _acknowledge(self, msg: Msg) -> None:
        """After the commit. If this ack never arrives, the message comes back after ack_wait and the
        inbox skips it."""
        await _settle(msg.ack())

    async def _park(self, msg: Msg, event_id: uuid.UUID, error: str, delivered: int) -> None:
        try:
            async with transaction(self.pool) as conn:
                await conn.execute(_PARK, self.name, event_id, msg.subject, msg.data, error, delivered)
        except Exception as exc:
            log.warning("cannot park event yet; it will be redelivered", extra={"error": repr(exc)})
            await _settle(msg.nak(delay=self.retry_delay))
            return
        log.error(
            "event parked",
            extra={
                "consumer": self.durable,
                "event_id": str(event_id),
                "subject": msg.subject,
                "deliveries": delivered,
            },
        )
        await _settle(msg.term())


def _message_id(msg: Msg) -> uuid.UUID:
    """The relay's Nats-Msg-Id, else a new id, for a message whose envelope cannot be read."""
    try:
        return uuid.UUID((msg.headers or {}).get("Nats-Msg-Id", ""))
    except ValueError:
        return uuid.uuid4()


def _failure(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()


async def _settle(reply: Awaitable[None]) -> None:
    """Sends an ack, nak or term. While reconnecting the client buffers it; if it is lost anyway, the
    server redelivers after ack_wait, which the inbox makes harmless."""
    try:
        await reply
    except nats.errors.Error as exc:
        log.debug("ack not sent", extra={"error": type(exc).__name__})
