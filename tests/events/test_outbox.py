"""The event tables as the migration helper makes them, and enqueue() against real PostgreSQL."""

import asyncio
import uuid

import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db
from dockyard_kit.events import drop_event_tables, enqueue, event_metadata
from tests.events.support import migrate, widget_changed


async def test_the_migration_helper_makes_the_tables_the_metadata_describes(pool, event_schema):
    expected = event_metadata(event_schema)
    async with pool.acquire() as conn:
        for table in (expected.outbox, expected.inbox, expected.parked_events):
            columns = await conn.fetch(
                "SELECT column_name, is_nullable FROM information_schema.columns"
                " WHERE table_schema = $1 AND table_name = $2",
                event_schema,
                table.name,
            )
            assert {row["column_name"]: row["is_nullable"] == "YES" for row in columns} == {
                column.name: column.nullable for column in table.columns
            }
        index = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'outbox_unpublished_idx'",
            event_schema,
        )
        primary_key = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'inbox_pkey'", event_schema
        )
        id_default = await conn.fetchval(
            "SELECT column_default FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'outbox' AND column_name = 'id'",
            event_schema,
        )
    assert index is not None and "(id) WHERE (published_at IS NULL)" in index
    assert "(consumer, event_id)" in primary_key
    assert id_default.startswith("nextval(")


async def test_drop_event_tables_removes_them(pool, event_settings, event_schema):
    await migrate(event_settings, drop_event_tables)
    async with pool.acquire() as conn:
        left = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", event_schema)
    assert left == []


async def test_enqueue_refuses_to_run_outside_a_transaction(pool):
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await enqueue(conn, widget_changed("w1"))
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_enqueue_writes_the_envelope_and_nothing_before_commit(pool):
    event = widget_changed("w1", 5)
    async with db.transaction(pool) as conn:
        await enqueue(conn, event)
        async with pool.acquire() as other:
            assert await other.fetchval("SELECT count(*) FROM outbox") == 0
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM outbox")
    assert row["event_id"] == uuid.UUID(event.id)
    assert (row["subject"], row["resource_type"], row["resource_id"]) == (
        "dockyard.eventkit.widget.changed",
        "widget",
        "w1",
    )
    assert Event.FromString(row["envelope"]) == event
    assert row["published_at"] is None

    with pytest.raises(Exception, match="rolled back"):
        async with db.transaction(pool) as conn:
            await enqueue(conn, widget_changed("w1"))
            raise Exception("rolled back")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1


async def test_one_resource_commits_its_events_in_id_order(pool):
    """A second writer of the same resource waits for the first to commit; another resource's does
    not. So, within a resource, a later outbox id is never visible before an earlier one."""
    async with pool.acquire() as first, pool.acquire() as second, pool.acquire() as third:
        first_tx = first.transaction()
        await first_tx.start()
        earlier = widget_changed("w1")
        await enqueue(first, earlier)

        async def write(conn, event: Event) -> None:
            async with conn.transaction():
                await enqueue(conn, event)

        later = widget_changed("w1")
        same_resource = asyncio.create_task(write(second, later))
        other_resource = asyncio.create_task(write(third, widget_changed("w2")))
        await asyncio.wait_for(other_resource, 5)
        await asyncio.sleep(0.3)
        assert not same_resource.done()
        await first_tx.commit()
        await asyncio.wait_for(same_resource, 5)
        rows = await first.fetch("SELECT event_id FROM outbox WHERE resource_id = 'w1' ORDER BY id")
    assert [str(row["event_id"]) for row in rows] == [earlier.id, later.id]
