"""SQL of deliveries and their attempts: made once per (channel, dedupe key), claimed by a
dispatcher under a lease, each attempt recorded, the delivery log read newest first, and finished
deliveries purged once past their retention."""

import datetime
import json
import uuid

import asyncpg

COLUMNS = (
    "d.id, d.channel_id, d.event, d.dedupe_key, d.payload, d.summary, d.status, d.attempts,"
    " d.next_attempt_at, d.leased_until, d.last_http_status, d.last_error, d.last_attempt_at,"
    " d.delivered_at, d.created_at"
)


async def insert_for_channels(
    conn: asyncpg.Connection,
    channel_ids: list[uuid.UUID],
    event: str,
    dedupe_key: str,
    payload: dict,
    summary: str,
) -> int:
    """One delivery per channel, skipping channels that already have this dedupe key; how many were
    made."""
    if not channel_ids:
        return 0
    status = await conn.execute(
        "INSERT INTO deliveries (channel_id, event, dedupe_key, payload, summary)"
        " SELECT unnest($1::uuid[]), $2, $3, $4::jsonb, $5 ON CONFLICT (channel_id, dedupe_key) DO NOTHING",
        channel_ids,
        event,
        dedupe_key,
        json.dumps(payload),
        summary,
    )
    return int(status.split()[-1])


async def insert_one(
    conn: asyncpg.Connection, channel_id: uuid.UUID, event: str, dedupe_key: str, payload: dict, summary: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO deliveries AS d (channel_id, event, dedupe_key, payload, summary)"
        f" VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING {COLUMNS}",
        channel_id,
        event,
        dedupe_key,
        json.dumps(payload),
        summary,
    )


async def insert_many(conn: asyncpg.Connection, rows: list[tuple]) -> int:
    """(channel id, event, dedupe key, payload, summary) rows, skipping those already made."""
    if not rows:
        return 0
    channel_ids, events, keys, payloads, summaries = zip(*rows, strict=True)
    status = await conn.execute(
        "INSERT INTO deliveries (channel_id, event, dedupe_key, payload, summary)"
        " SELECT c, e, k, p::jsonb, s FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])"
        " AS r(c, e, k, p, s) ON CONFLICT (channel_id, dedupe_key) DO NOTHING",
        list(channel_ids),
        list(events),
        list(keys),
        [json.dumps(p) for p in payloads],
        list(summaries),
    )
    return int(status.split()[-1])


async def claim_due(conn: asyncpg.Connection, limit: int, lease_seconds: float) -> list[asyncpg.Record]:
    """Up to `limit` due deliveries, each leased for `lease_seconds` and its attempt counted, with
    its channel's kind, config and sealed secrets. Rows another dispatcher holds are skipped, and a
    lease that ran out (its holder crashed mid-send) is taken over."""
    return await conn.fetch(
        f"""
        WITH due AS (
            SELECT id FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
              AND (leased_until IS NULL OR leased_until < now())
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE deliveries d SET leased_until = now() + make_interval(secs => $2), attempts = d.attempts + 1
        FROM due, channels ch
        WHERE d.id = due.id AND ch.id = d.channel_id
        RETURNING {COLUMNS}, ch.name AS channel_name, ch.kind, ch.config, ch.secrets
        """,
        limit,
        lease_seconds,
    )


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: uuid.UUID,
    attempt: int,
    attempted_at: datetime.datetime,
    http_status: int | None,
    error: str,
    duration_ms: int,
    *,
    status: str,
    next_attempt_at: datetime.datetime | None,
) -> None:
    """The delivery's new state (delivered, failed when given up, or pending until next_attempt_at;
    its lease ends) and the attempt in the log; nothing when the delivery is gone (its channel was
    deleted while it was being sent). The caller holds the transaction."""
    updated = await conn.fetchval(
        "UPDATE deliveries SET status = $2::text, last_http_status = $3, last_error = $4, last_attempt_at = $5,"
        " leased_until = NULL, next_attempt_at = COALESCE($6, next_attempt_at),"
        " delivered_at = CASE WHEN $2::text = 'delivered' THEN now() END WHERE id = $1 RETURNING id",
        delivery_id,
        status,
        http_status,
        error or None,
        attempted_at,
        next_attempt_at,
    )
    if updated is None:
        return
    await conn.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, http_status, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        delivery_id,
        attempt,
        attempted_at,
        http_status,
        error or None,
        duration_ms,
    )


async def page(
    conn: asyncpg.Connection,
    channel_id: uuid.UUID,
    status: str,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, after (created_at, id) when given; status "" for all."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM deliveries d WHERE d.channel_id = $1 AND ($2 = '' OR d.status = $2)"
        " AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4))"
        " ORDER BY d.created_at DESC, d.id DESC LIMIT $5",
        channel_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def attempts_of(conn: asyncpg.Connection, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    rows = await conn.fetch(
        "SELECT delivery_id, attempt, attempted_at, http_status, error, duration_ms FROM delivery_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt",
        delivery_ids,
    )
    history: dict[uuid.UUID, list] = {delivery_id: [] for delivery_id in delivery_ids}
    for row in rows:
        history[row["delivery_id"]].append(row)
    return history


async def purge_finished(conn: asyncpg.Connection, older_than: datetime.timedelta, batch: int) -> int:
    """Up to `batch` delivered or given-up deliveries made before `older_than` ago, with their
    attempts (ON DELETE CASCADE); how many. A certificate's warning stays until the certificate has
    expired: its row is what keeps the expiry check from announcing the same date again."""
    status = await conn.execute(
        """
        DELETE FROM deliveries WHERE id IN (
            SELECT id FROM deliveries
            WHERE status IN ('delivered', 'failed') AND created_at < now() - $1::interval
              AND (event <> 'certificate_expiring'
                   OR (payload -> 'certificate' ->> 'expires_at')::timestamptz < now())
            LIMIT $2
        )
        """,
        older_than,
        batch,
    )
    return int(status.split()[-1])
