"""The notifications schema's SQL against a real PostgreSQL, as the service's own role: one
delivery per channel and dedupe key however often it is inserted; a claimed delivery is held by its
lease (another dispatcher skips it, locked or leased) until the lease runs out, as after a crash
mid-send, when it is claimed again; the outcome of a send to a channel deleted meanwhile changes
nothing; finished deliveries past their retention are purged."""

import datetime
import json
import uuid

import pytest

from dockyard_kit import db, migrations
from services.notifications.domain import retention
from services.notifications.store import deliveries
from tests.support.paths import REPO_ROOT

MIGRATIONS = REPO_ROOT / "services" / "notifications" / "migrations"


@pytest.fixture
async def pool(settings):
    await db.bootstrap_service_role(settings, "notifications")
    await migrations.upgrade_to_head(settings, "notifications", MIGRATIONS)
    pool = await db.create_pool(settings, "notifications")
    yield pool
    await pool.close()


async def new_channel(pool) -> uuid.UUID:
    channel_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO channels (id, project_id, name, kind, secrets, events)"
        " VALUES ($1, $2, 'hook', 'webhook', 'sealed', ARRAY['deployment_failed'])",
        channel_id,
        uuid.uuid4(),
    )
    return channel_id


async def test_one_delivery_per_channel_and_dedupe_key(pool):
    first, second = await new_channel(pool), await new_channel(pool)
    async with db.transaction(pool) as conn:
        made = await deliveries.insert_for_channels(
            conn, [first, second], "deployment_failed", "e-1", {}, "s"
        )
        again = await deliveries.insert_for_channels(
            conn, [first, second], "deployment_failed", "e-1", {}, "s"
        )
        other = await deliveries.insert_many(conn, [(first, "deployment_failed", "e-2", {}, "s")] * 2)
    assert (made, again, other) == (2, 0, 1)
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 3


async def test_a_lease_holds_a_delivery_until_it_runs_out(pool):
    channel = await new_channel(pool)
    async with db.transaction(pool) as conn:
        await deliveries.insert_for_channels(conn, [channel], "deployment_failed", "e-1", {}, "s")
    # While one dispatcher's claim is uncommitted, another skips the locked row instead of waiting.
    async with db.transaction(pool) as holder:
        [claimed] = await deliveries.claim_due(holder, 10, 60)
        async with db.transaction(pool) as rival:
            assert await deliveries.claim_due(rival, 10, 60) == []
    assert claimed["attempts"] == 1 and claimed["kind"] == "webhook" and claimed["secrets"] == "sealed"
    # Committed, the lease keeps it from everyone else...
    async with db.transaction(pool) as conn:
        assert await deliveries.claim_due(conn, 10, 60) == []
    # ...until it runs out (its holder crashed mid-send): then it is claimed again, a second attempt.
    await pool.execute("UPDATE deliveries SET leased_until = now() - interval '1 second'")
    async with db.transaction(pool) as conn:
        [again] = await deliveries.claim_due(conn, 10, 60)
    assert again["id"] == claimed["id"] and again["attempts"] == 2
    # The outcome ends the lease and logs the attempt.
    now = datetime.datetime.now(datetime.UTC)
    async with db.transaction(pool) as conn:
        await deliveries.record_attempt(
            conn, again["id"], 2, now, 503, "HTTP 503", 12, status="pending", next_attempt_at=now
        )
    row = await pool.fetchrow("SELECT status, leased_until, last_http_status FROM deliveries")
    assert (row["status"], row["leased_until"], row["last_http_status"]) == ("pending", None, 503)
    async with db.transaction(pool) as conn:
        [third] = await deliveries.claim_due(conn, 10, 60)
        await deliveries.record_attempt(
            conn, third["id"], 3, now, 200, "", 9, status="delivered", next_attempt_at=None
        )
    assert await pool.fetchval("SELECT status FROM deliveries") == "delivered"
    assert [
        r["http_status"]
        for r in await pool.fetch("SELECT http_status FROM delivery_attempts ORDER BY attempt")
    ] == [503, 200]


async def test_the_outcome_of_a_send_to_a_deleted_channel_changes_nothing(pool):
    channel = await new_channel(pool)
    async with db.transaction(pool) as conn:
        await deliveries.insert_for_channels(conn, [channel], "deployment_failed", "e-1", {}, "s")
        [claimed] = await deliveries.claim_due(conn, 10, 60)
    await pool.execute("DELETE FROM channels WHERE id = $1", channel)
    async with db.transaction(pool) as conn:
        now = datetime.datetime.now(datetime.UTC)
        await deliveries.record_attempt(
            conn, claimed["id"], 1, now, 200, "", 5, status="delivered", next_attempt_at=None
        )
    assert await pool.fetchval("SELECT count(*) FROM delivery_attempts") == 0


async def test_finished_deliveries_past_their_retention_are_purged_with_their_attempts(pool, monkeypatch):
    monkeypatch.setattr(retention, "PURGE_BATCH_ROWS", 2)  # several batches in one pass
    channel = await new_channel(pool)
    now = datetime.datetime.now(datetime.UTC)
    old, recent = now - datetime.timedelta(days=100), now - datetime.timedelta(days=10)
    certificate = {"certificate": {"expires_at": (now + datetime.timedelta(days=5)).isoformat()}}
    expired_certificate = {"certificate": {"expires_at": (now - datetime.timedelta(days=1)).isoformat()}}
    made = {  # dedupe key: (event, status, created_at, payload)
        "delivered-old": ("deployment_failed", "delivered", old, {}),
        "failed-old": ("deployment_succeeded", "failed", old, {}),
        "test-old": ("test", "delivered", old, {}),
        "pending-old": ("deployment_failed", "pending", old, {}),
        "delivered-recent": ("deployment_failed", "delivered", recent, {}),
        "certificate-still-valid": ("certificate_expiring", "delivered", old, certificate),
        "certificate-expired": ("certificate_expiring", "delivered", old, expired_certificate),
    }
    for key, (event, status, created_at, payload) in made.items():
        delivery_id = await pool.fetchval(
            "INSERT INTO deliveries (channel_id, event, dedupe_key, payload, summary, status, created_at)"
            " VALUES ($1, $2, $3, $4::jsonb, 's', $5, $6) RETURNING id",
            channel, event, key, json.dumps(payload), status, created_at,
        )  # fmt: skip
        await pool.execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, duration_ms) VALUES ($1, 1, $2, 5)",
            delivery_id,
            created_at,
        )

    purged = await retention.purge_old_deliveries(pool, datetime.timedelta(days=90))

    assert purged == 4
    left = {r["dedupe_key"] for r in await pool.fetch("SELECT dedupe_key FROM deliveries")}
    # Pending ones are the dispatcher's; a warning of a certificate that has not expired yet is what
    # keeps the expiry check from announcing it again.
    assert left == {"pending-old", "delivered-recent", "certificate-still-valid"}
    assert await pool.fetchval("SELECT count(*) FROM delivery_attempts") == 3
    assert await retention.purge_old_deliveries(pool, datetime.timedelta(days=90)) == 0
