"""identity.login_throttle: failed sign-ins per key ("account:<user id>", "login:<digest>" or
"ip:<address>")."""

import datetime

import asyncpg


async def lock_rows(conn: asyncpg.Connection, keys: list[str]) -> dict[str, asyncpg.Record]:
    """The rows of `keys`, created empty when missing, locked until the transaction ends. Sorted,
    so that two transactions locking the same keys cannot deadlock. A row that a concurrent
    transaction deleted while this one waited for its lock is created again."""
    keys = sorted(keys)
    rows: dict[str, asyncpg.Record] = {}
    while len(rows) < len(keys):
        await conn.execute(
            "INSERT INTO login_throttle (key, failures) SELECT unnest($1::varchar[]), 0 ON CONFLICT (key) DO NOTHING",
            keys,
        )
        found = await conn.fetch(
            "SELECT key, failures, window_started_at, locked_until FROM login_throttle WHERE key = ANY($1)"
            " ORDER BY key FOR UPDATE",
            keys,
        )
        rows = {row["key"]: row for row in found}
    return rows


async def save(
    conn: asyncpg.Connection,
    key: str,
    *,
    failures: int,
    window_started_at: datetime.datetime,
    locked_until: datetime.datetime | None,
) -> None:
    await conn.execute(
        "UPDATE login_throttle SET failures = $2, window_started_at = $3, locked_until = $4 WHERE key = $1",
        key,
        failures,
        window_started_at,
        locked_until,
    )


async def delete_stale(
    conn: asyncpg.Connection, *, window_started_before: datetime.datetime, now: datetime.datetime
) -> int:
    """Rows whose failures are forgotten and whose lock has ended: they limit nothing any more."""
    result = await conn.execute(
        "DELETE FROM login_throttle WHERE window_started_at < $1 AND (locked_until IS NULL OR locked_until <= $2)",
        window_started_before,
        now,
    )
    return int(result.split()[-1])
