"""OutboxRelay in-process: one leader per schema, id order, Nats-Msg-Id, take-over, wake-ups, clean-up."""

import asyncio
import datetime
import uuid

from dockyard_kit import db
from dockyard_kit.events import OutboxRelay, enqueue
from tests.events.support import running, widget_changed
from tests.support.waiting import eventually_async


async def write(pool, count: int) -> list[str]:
    ids = []
    for n in range(count):
        event = widget_changed(f"w{n % 3}", n)
        async with db.transaction(pool) as conn:
            await enqueue(conn, event)
        ids.append(event.id)
    return ids


async def stream_message_ids(link) -> list[str]:
    state = (await link.js.stream_info(link.stream)).state
    if not state.messages:
        return []
    messages = [await link.js.get_msg(link.stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]
    return [message.headers["Nats-Msg-Id"] for message in messages]


async def all_published(pool) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL")


async def test_one_relay_leads_and_a_standby_takes_over_in_order(pool, event_settings, event_schema, link):
    standby_pool = await db.create_pool(event_settings, event_schema)
    # A long poll interval: the relays learn of new rows from enqueue()'s NOTIFY at commit.
    relays = [
        OutboxRelay(pool, link, standby_interval=0.2, poll_interval=30),
        OutboxRelay(standby_pool, link, standby_interval=0.2, poll_interval=30),
    ]
    tasks = {relay: asyncio.create_task(relay.run()) for relay in relays}
    try:
        await eventually_async(lambda: any(relay.leading for relay in relays), within=5, what="a leader")
        await asyncio.sleep(0.6)  # three standby rounds
        leaders = [relay for relay in relays if relay.leading]
        assert len(leaders) == 1
        leader, standby = leaders[0], next(relay for relay in relays if not relay.leading)

        written = await write(pool, 30)
        took = await eventually_async(lambda: all_published(pool), within=10, what="events published")
        assert took < 2
        assert await stream_message_ids(link) == written

        tasks[leader].cancel()
        await asyncio.gather(tasks[leader], return_exceptions=True)
        assert not leader.leading
        await eventually_async(lambda: standby.leading, within=5, what="the standby taking over")

        written += await write(pool, 30)
        await eventually_async(lambda: all_published(pool), within=10, what="events published by the standby")
        assert await stream_message_ids(link) == written
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await standby_pool.close()


async def test_the_relay_polls_for_rows_and_cleans_up_old_published_ones(pool, link):
    old, recent, silent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    envelope = widget_changed("w1").SerializeToString()
    async with pool.acquire() as conn:
        insert = (
            "INSERT INTO outbox (event_id, subject, resource_type, resource_id, envelope, published_at)"
            " VALUES ($1, 'dockyard.eventkit.widget.changed', 'widget', 'w1', $2, now() - $3::interval)"
        )
        await conn.execute(insert, old, envelope, datetime.timedelta(days=2))
        await conn.execute(insert, recent, envelope, datetime.timedelta(hours=1))
    async with running(OutboxRelay(pool, link, poll_interval=0.2).run()):
        await asyncio.sleep(0.5)
        # Written without enqueue(), so without a NOTIFY: as a writer whose notification was lost.
        async with pool.acquire() as conn:
            await conn.execute(
                insert.replace("now() - $3::interval", "NULL").replace(", $3", ""), silent, envelope
            )
        await eventually_async(lambda: all_published(pool), within=5, what="the silent row published")
    async with pool.acquire() as conn:
        left = {row["event_id"] for row in await conn.fetch("SELECT event_id FROM outbox")}
    assert left == {recent, silent}
    assert await stream_message_ids(link) == [str(silent)]
