"""EventConsumer against real NATS and PostgreSQL: duplicates and lost acks apply once; a poison
message is parked after N deliveries without holding up the rest, and replays once."""

import subprocess
import sys
import uuid
from collections import Counter

import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db
from dockyard_kit.events import EventConsumer, OutboxRelay, enqueue, list_parked, replay_parked
from tests.events.support import SERVICE, running, widget_changed
from tests.support.paths import REPO_ROOT
from tests.support.waiting import eventually_async

SUBJECTS = ["dockyard.eventkit.>"]


@pytest.fixture
async def effects(pool):
    """The consumers' effect: one row per applied event, in the order applied."""
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE effects (id bigserial PRIMARY KEY, event_id uuid NOT NULL, widget text NOT NULL)"
        )


async def record_widget(conn, event: Event) -> None:
    """The handler the CLI replays with (a module-level function, importable by path)."""
    await conn.execute(
        "INSERT INTO effects (event_id, widget) VALUES ($1, $2)", uuid.UUID(event.id), event.resource_id
    )


async def applied(pool) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, widget FROM effects ORDER BY id")
    return [(str(row["event_id"]), row["widget"]) for row in rows]


async def inbox(pool) -> list[str]:
    async with pool.acquire() as conn:
        return [str(row["event_id"]) for row in await conn.fetch("SELECT event_id FROM inbox")]


async def all_acked(link, consumer: EventConsumer, last_seq: int) -> bool:
    if consumer.durable is None:
        return False
    info = await link.js.consumer_info(link.stream, consumer.durable)
    return info.ack_floor.stream_seq == last_seq and info.num_ack_pending == 0 and info.num_pending == 0


async def test_the_same_event_published_twice_applies_once(pool, link, effects):
    event = widget_changed("w1")
    calls = []

    async def handler(conn, event: Event) -> None:
        calls.append(event.id)
        await record_widget(conn, event)

    # Different message ids, so JetStream keeps both copies: only the inbox stands in the way.
    for copy in ("copy-1", "copy-2"):
        await link.js.publish(event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": copy})
    assert (await link.js.stream_info(link.stream)).state.messages == 2

    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, fetch_timeout=1)
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 2), within=15, what="both copies acked")
    assert calls == [event.id]
    assert await applied(pool) == [(event.id, "w1")]
    assert await inbox(pool) == [event.id]


class LosesTheFirstAck(EventConsumer):
    """A consumer whose first ack never reaches the server, as when the process dies right after
    its commit or the ack is lost on the way."""

    deliveries: list[int]

    async def _acknowledge(self, msg) -> None:
        self.deliveries.append(msg.metadata.num_delivered)
        if len(self.deliveries) > 1:
            await super()._acknowledge(msg)


async def test_a_redelivery_after_a_lost_ack_applies_once(pool, link, effects):
    calls = []

    async def handler(conn, event: Event) -> None:
        calls.append(event.id)
        await record_widget(conn, event)

    event = widget_changed("w1")
    await link.js.publish(event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.id})
    consumer = LosesTheFirstAck(pool, link, "effects", SUBJECTS, handler, ack_wait=1, fetch_timeout=1)
    consumer.deliveries = []
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 1), within=15, what="the redelivery acked")
    assert consumer.deliveries == [1, 2]  # delivered again after ack_wait...
    assert calls == [event.id]  # ...and not applied again
    assert await applied(pool) == [(event.id, "w1")]


async def test_a_retried_event_keeps_its_place_before_later_ones(pool, link, effects):
    """A handler failure sends an event back for redelivery; the events behind it wait for it."""
    failed_once = set()

    async def handler(conn, event: Event) -> None:
        if event.resource_id == "flaky" and event.id not in failed_once:
            failed_once.add(event.id)
            raise RuntimeError("transient")
        await record_widget(conn, event)

    events = [widget_changed(widget) for widget in ("a", "flaky", "b", "c")]
    for event in events:
        await link.js.publish(event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.id})
    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, retry_delay=0.5, fetch_timeout=1)
    async with running(consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 4), within=15, what="all four acked")
    assert [widget for _, widget in await applied(pool)] == ["a", "flaky", "b", "c"]


async def test_a_poison_message_is_parked_the_rest_flows_and_replay_applies_it_once(
    pool, link, effects, event_env
):
    fixed = False
    attempts = Counter()

    async def handler(conn, event: Event) -> None:
        attempts[event.resource_id] += 1
        if event.resource_id == "poison" and not fixed:
            raise RuntimeError("cannot apply poison")
        await record_widget(conn, event)

    events = [widget_changed(widget) for widget in ("a", "poison", "b", "c")]
    for event in events:
        async with db.transaction(pool) as conn:
            await enqueue(conn, event)
    consumer = EventConsumer(pool, link, "effects", SUBJECTS, handler, max_deliver=3, retry_delay=0.2)
    async with running(OutboxRelay(pool, link).run(), consumer.run()):
        await eventually_async(lambda: all_acked(link, consumer, 4), within=30, what="all four settled")
    poison = events[1]
    assert await applied(pool) == [(events[0].id, "a"), (events[2].id, "b"), (events[3].id, "c")]
    assert attempts["poison"] == 3
    assert poison.id not in await inbox(pool)

    [parked] = await list_parked(pool)
    assert (parked.consumer, str(parked.event_id), parked.subject) == ("effects", poison.id, poison.subject)
    assert parked.deliveries == 3 and parked.replayed_at is None
    assert "RuntimeError: cannot apply poison" in parked.error

    listing = operator(event_env, "list", "--service", SERVICE)
    assert poison.id in listing and "RuntimeError: cannot apply poison" in listing

    fixed = True
    replayed = operator(
        event_env, "replay", "--service", SERVICE, "--id", str(parked.id),
        "--handler", "tests.events.test_consumer:record_widget",
    )  # fmt: skip
    assert f"parked event {parked.id}: applied" in replayed
    # Again, from code this time: the inbox already has it, so the effect is not applied twice.
    assert await replay_parked(pool, parked.id, handler) is False
    assert await applied(pool) == [
        (events[0].id, "a"),
        (events[2].id, "b"),
        (events[3].id, "c"),
        (poison.id, "poison"),
    ]
    assert await list_parked(pool) == []
    [replayed_event] = await list_parked(pool, include_replayed=True)
    assert replayed_event.replayed_at is not None
    with pytest.raises(LookupError):
        await replay_parked(pool, parked.id + 1, handler)


def operator(env: dict[str, str], *args: str) -> str:
    """`python -m dockyard_kit.events parked ...`, as an operator runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "dockyard_kit.events", "parked", *args],
        env={**env, "COLUMNS": "300"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
