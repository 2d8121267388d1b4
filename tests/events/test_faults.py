"""The whole path under faults: concurrent writers, the relay as its own process (SIGKILLed once,
between publishing and marking), NATS stopped and restarted on the same port and store. Every event
arrives exactly once, and each resource's events apply in the order they were committed."""

import asyncio
import random
import time
import uuid
from collections import defaultdict

import asyncpg
import pytest
from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db
from dockyard_kit.events import EventConsumer, enqueue, new_event
from tests.events.support import SERVICE, relay_process, running
from tests.support.waiting import eventually_async

TOTAL = 1000
WRITERS = 5
RESOURCES = [f"r{n:02d}" for n in range(20)]
DEADLINE_SECONDS = 120


@pytest.fixture
async def ledger(pool):
    async with pool.acquire() as conn:
        # The writers' state: one version counter per resource, bumped in each change's transaction.
        await conn.execute("CREATE TABLE versions (resource text PRIMARY KEY, version int NOT NULL)")
        # The consumer's effect: the versions of each resource in the order they were applied.
        await conn.execute(
            "CREATE TABLE applied (id bigserial PRIMARY KEY, resource text NOT NULL, version int NOT NULL,"
            " event_id uuid NOT NULL)"
        )


async def apply_version(conn, event: Event) -> None:
    version = wrappers_pb2.Int64Value()
    event.payload.Unpack(version)
    await conn.execute(
        "INSERT INTO applied (resource, version, event_id) VALUES ($1, $2, $3)",
        event.resource_id,
        version.value,
        uuid.UUID(event.id),
    )


async def inbox_size(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM inbox")


async def all_consumed(pool) -> bool:
    return await inbox_size(pool) >= TOTAL


async def relay_waits_to_mark(observer: asyncpg.Connection) -> bool:
    """The relay has published a batch and now waits for its UPDATE: it holds acked, unmarked rows.
    (`observer` is outside any transaction, which would freeze its view of pg_stat_activity.)"""
    return await observer.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE outbox SET published_at%'"
    )


@pytest.mark.timeout(DEADLINE_SECONDS + 30)
@pytest.mark.parametrize("batch", [1, 100])
async def test_every_event_once_in_commit_order_through_relay_crash_and_nats_outage(
    pool, link, ledger, event_env, event_settings, nats_server, batch
):
    """With batch=1 each resource's events apply in commit order; a batched consumer (the audit
    trail's) keeps no order across a redelivery, but still applies every event exactly once."""
    started = time.monotonic()
    committed = 0

    async def writer(number: int) -> None:
        nonlocal committed
        rng = random.Random(number)
        for _ in range(TOTAL // WRITERS):
            resource = rng.choice(RESOURCES)
            async with db.transaction(pool) as conn:
                version = await conn.fetchval(
                    "INSERT INTO versions VALUES ($1, 1)"
                    " ON CONFLICT (resource) DO UPDATE SET version = versions.version + 1 RETURNING version",
                    resource,
                )
                event = new_event(
                    SERVICE, "widget", "changed", resource, wrappers_pb2.Int64Value(value=version)
                )
                await enqueue(conn, event)
            committed += 1
            await asyncio.sleep(0.015)

    def remaining() -> float:
        return DEADLINE_SECONDS - (time.monotonic() - started)

    consumer = EventConsumer(
        pool,
        link,
        "ledger",
        ["dockyard.eventkit.>"],
        apply_version,
        ack_wait=5,
        retry_delay=0.2,
        fetch_timeout=1,
        batch=batch,
    )
    relays = [relay_process(event_env, SERVICE)]
    admin = await db.connect_admin(event_settings)
    observer = await db.connect_admin(event_settings)
    try:
        async with running(consumer.run(), *(writer(n) for n in range(WRITERS))) as tasks:
            writers = tasks[1:]
            await eventually_async(lambda: committed >= 250, within=remaining(), what="250 events written")

            await asyncio.to_thread(nats_server.stop)
            outage_started = time.monotonic()
            await eventually_async(lambda: committed >= 450, within=remaining(), what="450 events written")
            await asyncio.sleep(max(0.0, 2 - (time.monotonic() - outage_started)))

            # Writers and the relay's marking UPDATE wait on this lock; the relay's claim does not.
            async with admin.transaction():
                await admin.execute(f"LOCK TABLE {SERVICE}.outbox IN SHARE MODE")
                await asyncio.to_thread(nats_server.start)
                await eventually_async(
                    lambda: relay_waits_to_mark(observer),
                    within=remaining(),
                    what="the relay published a batch",
                )
                relays[0].kill()
            relays.append(relay_process(event_env, SERVICE))

            await asyncio.wait_for(asyncio.gather(*writers), remaining())
            await eventually_async(
                lambda: all_consumed(pool), within=remaining(), what="every event consumed"
            )
            await asyncio.sleep(1)  # room for a stray duplicate to show up
    finally:
        await admin.close()
        await observer.close()
        for relay in relays:
            relay.stop()
            print(
                f"relay process {relay.process.pid}:", *relay.lines[-40:], sep="\n"
            )  # shown if the test fails

    assert await inbox_size(pool) == TOTAL
    async with pool.acquire() as conn:
        applied = await conn.fetch("SELECT resource, version, event_id FROM applied ORDER BY id")
        written = {row["event_id"] for row in await conn.fetch("SELECT event_id FROM outbox")}
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    assert len(applied) == TOTAL
    assert {row["event_id"] for row in applied} == written and len(written) == TOTAL

    versions = defaultdict(list)
    for row in applied:
        versions[row["resource"]].append(row["version"])
    for resource, seen in versions.items():
        in_order = seen if batch == 1 else sorted(seen)
        assert in_order == list(range(1, len(seen) + 1)), f"{resource} applied out of commit order: {seen}"

    # The killed relay's batch was published again by its successor; the stream kept one copy.
    assert (await link.js.stream_info(link.stream)).state.messages == TOTAL
    dropped = sum(
        e.get("duplicates", 0)
        for e in relays[1].logs()
        if e.get("msg") == "stream dropped re-published events"
    )
    assert dropped > 0, "\n".join(relays[1].lines[-30:])
