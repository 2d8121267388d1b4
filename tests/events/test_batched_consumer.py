"""EventConsumer with batch=N against real NATS and PostgreSQL: a batch applies in one transaction,
each event once; a poisoned event rolls back only itself and is parked; a consumer that dies between
its commit and its acks loses and duplicates nothing; a durable consumer whose batch grew takes its
new limit."""

import asyncio
import uuid
from collections import Counter

import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db
from dockyard_kit.events import EventConsumer, NatsLink, list_parked
from tests.events.support import running, widget_changed
from tests.support.waiting import eventually_async

SUBJECTS = ["dockyard.eventkit.>"]


@pytest.fixture
async def effects(pool):
    """One row per applied event, with the transaction that applied it."""
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (event_id uuid PRIMARY KEY, txid bigint NOT NULL)")


async def record(conn, event: Event) -> None:
    await conn.execute(
        "INSERT INTO effects (event_id, txid) VALUES ($1, txid_current())", uuid.UUID(event.id)
    )


async def effects_by_event(pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return {str(row["event_id"]): row["txid"] for row in await conn.fetch("SELECT * FROM effects")}


async def publish(link, events: list[Event], *, copy: str = "") -> None:
    for event in events:
        await link.js.publish(
            event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.id + copy}
        )


async def all_acked(link, consumer: EventConsumer, last_seq: int) -> bool:
    if consumer.durable is None:
        return False
    info = await link.js.consumer_info(link.stream, consumer.durable)
    return info.ack_floor.stream_seq == last_seq and info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_batch_applies_in_one_transaction_each_event_once(pool, link, effects):
    calls = Counter()

    async def handler(conn, event: Event) -> None:
        calls[event.id] += 1
        await record(conn, event)

    events = [widget_changed(f"w{n}", n) for n in range(500)]
    await publish(link, events)
    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, batch=100, fetch_timeout=1)
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 500), within=30, what="500 acked")
        info = await link.js.consumer_info(link.stream, consumer.durable)
        assert info.config.max_ack_pending == 100
        # The same events again under other message ids, so the stream keeps them: the inbox skips them.
        await publish(link, events, copy="-again")
        await eventually_async(lambda: all_acked(link, consumer, 1000), within=30, what="copies acked")
    applied = await effects_by_event(pool)
    assert sorted(applied) == sorted(event.id for event in events)
    assert set(calls.values()) == {1}
    # Batches, not one transaction per event (the first fetch, idle, takes one message).
    assert len(set(applied.values())) <= 10


async def test_a_poisoned_event_rolls_back_alone_and_is_parked(pool, link, effects):
    attempts: dict[str, list[int]] = {}

    async def handler(conn, event: Event) -> None:
        await record(conn, event)  # undone with the savepoint when the handler fails
        attempts.setdefault(event.resource_id, []).append(await conn.fetchval("SELECT txid_current()"))
        if event.resource_id == "poison":
            raise RuntimeError("cannot apply poison")

    events = [widget_changed(widget) for widget in ("a", "b", "c", "poison", "d", "e")]
    await publish(link, events)
    consumer = EventConsumer(
        pool, link, "effects", SUBJECTS, handler, batch=10, max_deliver=3, retry_delay=0.2, fetch_timeout=1
    )
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 6), within=30, what="all six settled")
    poison = events[3]
    applied = await effects_by_event(pool)
    assert sorted(applied) == sorted(event.id for event in events if event is not poison)
    # It was tried in the transaction that committed the events around it.
    assert applied[events[2].id] == applied[events[4].id] in attempts["poison"]
    [parked] = await list_parked(pool)
    assert (str(parked.event_id), parked.deliveries) == (poison.id, 3)
    assert "RuntimeError: cannot apply poison" in parked.error
    async with pool.acquire() as conn:
        assert not await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(poison.id))


class Crash(Exception):
    """The process dies: raised in place of an ack."""


class DiesAfterCommitting(EventConsumer):
    """A consumer whose process dies after its 150th ack: the rest of that batch has committed and
    is never acked."""

    acks = 0

    async def _acknowledge(self, msg) -> None:
        if self.acks == 150:
            raise Crash
        self.acks += 1
        await super()._acknowledge(msg)


async def test_a_restart_between_commit_and_acks_loses_and_duplicates_nothing(
    pool, link, effects, event_settings
):
    calls = Counter()

    async def handler(conn, event: Event) -> None:
        calls[event.id] += 1
        await record(conn, event)

    events = [widget_changed(f"w{n}", n) for n in range(500)]
    await publish(link, events)
    # The first process, with a connection of its own that goes down with it.
    first_link = NatsLink(event_settings.NATS_URL, link.stream, name="first-process")
    first_link.start()
    options = {"batch": 100, "ack_wait": 2, "fetch_timeout": 1}
    first = DiesAfterCommitting(pool, first_link, "effects", SUBJECTS, handler, **options)
    with pytest.raises(Crash):
        await asyncio.wait_for(first.run(), 30)
    await first_link.close()
    committed_before_restart = len(await effects_by_event(pool))
    assert committed_before_restart > 150  # some committed without their acks

    second = EventConsumer(pool, link, "effects", SUBJECTS, handler, **options)
    async with running(second.run()):
        await eventually_async(lambda: all_acked(link, second, 500), within=30, what="500 acked")
    assert sorted(await effects_by_event(pool)) == sorted(event.id for event in events)
    assert set(calls.values()) == {1}


async def test_connections_cut_by_the_database_lose_and_duplicate_nothing(
    pool, link, effects, event_settings, event_schema
):
    """PostgreSQL dropping the consumer's connections mid-stream (as a restart does to its clients):
    the batches in flight are refused and come back, and every event applies exactly once."""
    events = [widget_changed(f"d{n}", n) for n in range(5000)]
    await publish(link, events)  # all waiting before the consumer starts, so there is a stream to cut
    consumer = EventConsumer(
        pool, link, "effects", SUBJECTS, record, batch=100, fetch_timeout=1, retry_delay=0.1
    )
    admin = await db.connect_admin(event_settings)
    try:
        async with running(consumer.run()):
            cuts, applied_at_cuts = 0, []
            for _ in range(400):  # while the batches flow: once all are in, nothing is left to cut
                await asyncio.sleep(0.01)
                cut = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
                    db.role_name(event_schema),
                )
                if cut:
                    cuts += cut
                    applied_at_cuts.append(
                        await admin.fetchval(f"SELECT count(*) FROM {event_schema}.effects")
                    )
                if cuts >= 3:
                    break
            await eventually_async(
                lambda: all_acked(link, consumer, len(events)), within=60, what="all acked"
            )
    finally:
        await admin.close()
    assert cuts and applied_at_cuts[0] < len(events), "no connection was cut while events were flowing"
    assert sorted(await effects_by_event(pool)) == sorted(event.id for event in events)


class GatheredEffects:
    """A Deferred (dockyard_kit.events.consumer): effects gathered by the handler and written in one
    statement before the commit, as the audit trail writes its entries."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.writes = 0

    async def gather(self, conn, event: Event) -> None:
        if event.resource_id == "poison":
            raise ValueError("cannot apply this one")
        self.pending.append(event)

    def discard(self) -> None:
        self.pending.clear()

    async def write(self, conn) -> None:
        pending, self.pending = self.pending, []
        if pending:
            self.writes += 1
            await conn.execute(
                "INSERT INTO effects (event_id, txid) SELECT unnest($1::uuid[]), txid_current()",
                [uuid.UUID(event.id) for event in pending],
            )


async def test_deferred_effects_are_written_once_per_batch_and_a_poisoned_event_takes_none_with_it(
    pool, link, effects
):
    deferred = GatheredEffects()
    events = [widget_changed(f"g{n}", n) for n in range(300)]
    poisoned = widget_changed("poison", 0)
    await publish(link, [*events[:150], poisoned, *events[150:]])
    consumer = EventConsumer(
        pool, link, "effects", SUBJECTS, deferred.gather, batch=100, fetch_timeout=1, retry_delay=0.1,
        max_deliver=2, deferred=deferred,
    )  # fmt: skip
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 301), within=30, what="all settled")
        # Copies of what was applied, under other message ids: the inbox skips them in one statement.
        await publish(link, events[:50], copy="-again")
        await eventually_async(lambda: all_acked(link, consumer, 351), within=30, what="copies settled")
    applied = await effects_by_event(pool)
    assert sorted(applied) == sorted(event.id for event in events)
    # Once per batch, and event by event only for the batch retried around the poisoned event.
    assert deferred.writes <= 110, deferred.writes
    [parked] = await list_parked(pool)
    assert str(parked.event_id) == poisoned.id


async def test_a_consumer_whose_batch_grew_takes_its_new_limit_when_it_starts_again(
    pool, link, effects, event_settings
):
    """An upgrade that batches a consumer which ran one event at a time (the durable consumer exists)."""
    old_link = NatsLink(event_settings.NATS_URL, link.stream, name="the old version")
    old_link.start()
    # A message that the old process's last pull request took comes back after ack_wait.
    options = {"ack_wait": 2, "fetch_timeout": 1}
    one_at_a_time = EventConsumer(pool, old_link, "effects", SUBJECTS, record, **options)
    await publish(link, [widget_changed("before")])
    async with running(one_at_a_time.run()):
        await eventually_async(lambda: all_acked(link, one_at_a_time, 1), within=15, what="the first acked")
    await old_link.close()
    batched = EventConsumer(pool, link, "effects", SUBJECTS, record, batch=50, **options)
    await publish(link, [widget_changed(f"after{n}") for n in range(20)])
    async with running(batched.run()):
        await eventually_async(lambda: all_acked(link, batched, 21), within=15, what="the rest acked")
        info = await link.js.consumer_info(link.stream, batched.durable)
    assert info.config.max_ack_pending == 50
    assert len(await effects_by_event(pool)) == 21
