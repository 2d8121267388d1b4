"""Retention of the event plumbing against real NATS and PostgreSQL: the stream loses a message only
once every consumer acknowledged it; inbox rows go after the retention, which outlasts the stream's
duplicate window, so a copy the stream would let through still finds its inbox row."""

import datetime
import uuid

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import config
from dockyard_kit.config import Settings
from dockyard_kit.events import EventConsumer, housekeeping, prune_inbox, purge_acknowledged, retention
from tests.events.support import running, widget_changed
from tests.support.waiting import eventually_async

SUBJECTS = ["dockyard.eventkit.>"]


async def publish(link, event: Event):
    return await link.js.publish(event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.id})


async def stream_state(link) -> tuple[int, int]:
    """(first sequence, messages) of the stream."""
    state = (await link.js.stream_info(link.stream)).state
    return state.first_seq, state.messages


async def pull_consumer(link, durable: str, subjects: list[str] = SUBJECTS):
    """A durable consumer the test acks by hand."""
    config_ = ConsumerConfig(durable_name=durable, filter_subjects=subjects, ack_policy=AckPolicy.EXPLICIT)
    await link.js.add_consumer(link.stream, config_)
    return await link.js.pull_subscribe_bind(consumer=durable, stream=link.stream)


async def ack(subscription, count: int) -> None:
    for msg in await subscription.fetch(count, timeout=5):
        await msg.ack_sync()


async def test_a_message_acked_by_one_consumer_and_not_another_stays_until_both_did(link):
    for widget in ("a", "b", "c"):
        await publish(link, widget_changed(widget))
    assert await purge_acknowledged(link) == 0  # no consumers: nothing is known to be consumed
    assert await stream_state(link) == (1, 3)

    first, second = await pull_consumer(link, "first"), await pull_consumer(link, "second")
    assert await purge_acknowledged(link) == 0  # neither acked anything yet
    await ack(first, 3)
    await ack(second, 1)
    assert await purge_acknowledged(link) == 1
    assert await stream_state(link) == (2, 2)  # b and c: the second consumer has not acked them

    await ack(second, 2)
    assert await purge_acknowledged(link) == 3
    assert (await stream_state(link))[1] == 0


async def inbox_ages(pool) -> dict[str, datetime.timedelta]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, now() - processed_at AS age FROM inbox")
    return {str(row["event_id"]): row["age"] for row in rows}


async def add_inbox_row(conn, age: datetime.timedelta) -> str:
    event_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('effects', $1, now() - $2::interval)",
        event_id,
        age,
    )
    return str(event_id)


async def test_inbox_rows_older_than_the_retention_go_in_batches_and_younger_ones_stay(pool, monkeypatch):
    monkeypatch.setattr(retention, "PRUNE_BATCH_ROWS", 2)
    week = datetime.timedelta(days=7)
    async with pool.acquire() as conn:
        for age in (week * 2, week + datetime.timedelta(minutes=1), week * 3, week * 4, week * 5):
            await add_inbox_row(conn, age)
        young = {await add_inbox_row(conn, age) for age in (week - datetime.timedelta(minutes=1), week / 7)}
        assert await prune_inbox(conn, week) == 5  # three batches: 2, 2, 1
        assert await prune_inbox(conn, week) == 0
    assert set(await inbox_ages(pool)) == young


def test_the_inbox_retention_must_outlast_the_streams_duplicate_window():
    window_hours = config.EVENTS_DUPLICATE_WINDOW_SECONDS / 3600
    for hours in (window_hours, window_hours / 2):
        with pytest.raises(ValueError, match=r"DOCKYARD_INBOX_RETENTION_HOURS(.|\n)*duplicate window"):
            Settings(DOCKYARD_INBOX_RETENTION_HOURS=hours)
    assert Settings(DOCKYARD_INBOX_RETENTION_HOURS=window_hours * 1.01).DOCKYARD_INBOX_RETENTION_HOURS > 0
    assert Settings().DOCKYARD_INBOX_RETENTION_HOURS == 168


async def test_a_copy_the_stream_would_let_through_finds_its_inbox_row(pool, link, event_settings):
    """The ordering argument. A copy of an event (the relay re-publishing it) is dropped by the
    stream within the duplicate window of the first publish; the consumer applied the event after
    that publish, and its inbox row stays for the retention, longer than the window. So a copy that
    reaches the consumer finds the row, and one that would find it pruned never reaches it."""
    assert (await link.js.stream_info(link.stream)).config.duplicate_window == (
        config.EVENTS_DUPLICATE_WINDOW_SECONDS
    )
    calls = []

    async def handler(conn, event: Event) -> None:
        calls.append(event.id)

    event = widget_changed("w1")
    await publish(link, event)
    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, fetch_timeout=1)
    shortest = datetime.timedelta(seconds=config.EVENTS_DUPLICATE_WINDOW_SECONDS + 1)
    async with running(consumer.run()):
        await eventually_async(lambda: inbox_ages(pool), within=15, what="the event applied")
        # Inside the window: even the shortest retention keeps the row.
        async with pool.acquire() as conn:
            assert await prune_inbox(conn, shortest) == 0
            # Now pretend the retention has passed since it was applied.
            await conn.execute("UPDATE inbox SET processed_at = now() - interval '8 days'")
            assert await prune_inbox(conn, datetime.timedelta(days=7)) == 1
        # Without the row, only the stream stands in the way of a copy, and it is inside its window
        # (the test runs in seconds, the window is minutes): the copy goes no further.
        assert (await publish(link, event)).duplicate
    assert (await stream_state(link))[1] == 1
    assert calls == [event.id]


async def test_housekeeping_prunes_the_inbox_and_purges_what_all_consumers_acked(pool, link, event_settings):
    async def handler(conn, event: Event) -> None:
        pass

    event = widget_changed("w1")
    await publish(link, event)
    async with pool.acquire() as conn:
        await add_inbox_row(conn, datetime.timedelta(hours=2))
    settings = event_settings.model_copy(
        update={"DOCKYARD_INBOX_RETENTION_HOURS": 1.0, "DOCKYARD_STREAM_HOUSEKEEPING_SECONDS": 0.2}
    )
    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, fetch_timeout=1)
    async with running(consumer.run(), housekeeping(pool, link, settings, purge=True)):

        async def purged() -> bool:
            return (await stream_state(link))[1] == 0

        await eventually_async(purged, within=15, what="the acked event purged from the stream")
    assert set(await inbox_ages(pool)) == {event.id}  # the applied event's row stays, the old one went


async def test_a_consumer_with_nothing_pending_does_not_hold_back_the_purge(link):
    """A consumer whose subjects match nothing new keeps its ack floor at the last message they did
    match; with nothing pending it has all it takes, and the others' floors decide."""
    rare = widget_changed("rare")
    rare.subject = "dockyard.rare.widget.changed"
    await publish(link, rare)
    for widget in ("a", "b", "c"):
        await publish(link, widget_changed(widget))
    rare_consumer = await pull_consumer(link, "rare", [rare.subject])
    everything = await pull_consumer(link, "everything", ["dockyard.>"])
    await ack(everything, 3)  # the rare one and a, b
    assert await purge_acknowledged(link) == 0  # the rare consumer has its message pending
    await ack(rare_consumer, 1)
    assert (await link.js.consumer_info(link.stream, "rare")).ack_floor.stream_seq == 1
    assert await purge_acknowledged(link) == 3  # c is not acked by "everything"
    await ack(everything, 1)
    assert await purge_acknowledged(link) == 4
    assert (await stream_state(link))[1] == 0
