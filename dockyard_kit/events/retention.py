"""Retention of the event plumbing: the stream and the inboxes would otherwise grow without bound.

The stream keeps every message some durable consumer has not acknowledged yet: it is purged only
below the lowest ack floor over all its consumers (the stream sequence up to which a consumer has
acked or parked everything it takes, see `consumed_up_to`), so no event goes before every consumer
has it. That makes the purge safe from every service at once; each runs it (`housekeeping`) along
with pruning its own inbox. A consumer created later starts from what is left: it does not see
purged history. The stream has no age limit (max_age), which would drop events a consumer that is
down has not had yet.

An inbox row is what stops a second copy of an event from applying twice. JetStream itself drops a
re-published copy within its duplicate window (EVENTS_DUPLICATE_WINDOW_SECONDS, config.py), so an
inbox row must outlive that window (the settings refuse a shorter DOCKYARD_INBOX_RETENTION_HOURS).
A copy that comes after the retention applies again: that takes a relay that published and then
stayed down, or a consumer that committed and then stayed down before acking, for that long.
"""

import asyncio
import datetime
import logging

import asyncpg
import nats.errors
from nats.js.api import ConsumerInfo

from dockyard_kit.config import Settings
from dockyard_kit.db import DATABASE_ERRORS
from dockyard_kit.events.nats import NatsLink

log = logging.getLogger("dockyard.events")

# Rows one DELETE removes: a pass over a large backlog holds its locks and WAL a batch at a time.
PRUNE_BATCH_ROWS = 5000

_PRUNE = """
    WITH gone AS (
        DELETE FROM inbox WHERE (consumer, event_id) IN (
            SELECT consumer, event_id FROM inbox WHERE processed_at < now() - $1::interval LIMIT $2
        )
        RETURNING 1
    )
    SELECT count(*) FROM gone
"""


async def stream_consumers(link: NatsLink) -> list[ConsumerInfo]:
    """Every consumer of the stream (the server lists them a page at a time)."""
    consumers: list[ConsumerInfo] = []
    while page := await link.js.consumers_info(link.stream, offset=len(consumers)):
        consumers.extend(page)
    return consumers


def consumed_up_to(info: ConsumerInfo, last_seq: int) -> int:
    """The stream sequence up to which a consumer has acked (or parked) every message it takes: its
    ack floor; or, when it has none pending or unacked, `last_seq`, the stream's last sequence read
    before its state (its ack floor stays at the last message its subjects matched, which would hold
    back the purge of everything published on other subjects since)."""
    if info.num_pending == 0 and info.num_ack_pending == 0:
        return max(info.ack_floor.stream_seq, last_seq)
    return info.ack_floor.stream_seq


async def purge_acknowledged(link: NatsLink) -> int:
    """Removes the messages every consumer of the stream has acknowledged; returns the stream
    sequence up to which the stream is now purged (0: nothing purged, e.g. without consumers)."""
    # First the stream, then the consumers: what they have all consumed then includes this sequence.
    last_seq = (await link.js.stream_info(link.stream)).state.last_seq
    consumers = await stream_consumers(link)
    floor = min((consumed_up_to(info, last_seq) for info in consumers), default=0)
    if floor < 1:
        # Also, a purge without a sequence would empty the whole stream.
        return 0
    # JetStream purges the messages below `seq`, so the floor itself goes too.
    await link.js.purge_stream(link.stream, seq=floor + 1)
    return floor


async def prune_inbox(conn: asyncpg.Connection, older_than: datetime.timedelta) -> int:
    """Deletes inbox rows processed more than `older_than` ago, a batch per statement (`conn` outside
    a transaction, so each batch commits); returns how many went."""
    deleted = 0
    while True:
        batch = await conn.fetchval(_PRUNE, older_than, PRUNE_BATCH_ROWS)
        deleted += batch
        if batch < PRUNE_BATCH_ROWS:
            return deleted


async def housekeeping(pool: asyncpg.Pool, link: NatsLink, settings: Settings, *, purge: bool) -> None:
    """Every DOCKYARD_STREAM_HOUSEKEEPING_SECONDS, prunes this service's inbox and, if `purge` (the
    stream keeper, nats.STREAM_KEEPER), purges what all consumers acked, until cancelled. The first pass waits an interval, so that after a long outage
    a consumer first takes back what it had committed but not acked, while its inbox remembers it."""
    inbox_retention = datetime.timedelta(hours=settings.DOCKYARD_INBOX_RETENTION_HOURS)
    while True:
        await asyncio.sleep(settings.DOCKYARD_STREAM_HOUSEKEEPING_SECONDS)
        try:
            async with pool.acquire() as conn:
                pruned = await prune_inbox(conn, inbox_retention)
            if pruned:
                log.info("inbox rows pruned", extra={"deleted": pruned})
        except DATABASE_ERRORS as exc:
            log.warning("cannot prune the inbox; retrying later", extra={"error": repr(exc)})
        if not purge or not link.connected:
            continue
        try:
            purged_to = await purge_acknowledged(link)
            log.debug("events stream purged", extra={"stream": link.stream, "up_to_seq": purged_to})
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning(
                "cannot purge the events stream; retrying later",
                extra={"stream": link.stream, "error": str(exc) or type(exc).__name__},
            )
