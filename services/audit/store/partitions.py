"""SQL for audit_logs' monthly partitions: making them ahead, listing them, and what retention
reads and removes.

A month's partition is audit_logs_YYYY_MM and holds [first of the month 00:00 UTC, first of the next
month). PostgreSQL refuses to attach a partition whose range the DEFAULT partition holds rows of, so
a month is made as a table of its own, the default's rows of its range are moved into it, and then it
is attached: all in one transaction, so a row is in exactly one place at every moment. Attaching
gives it the parent's indexes and the search trigger (PostgreSQL clones both onto a partition).

Every change to the set of partitions holds one advisory transaction lock, so that replicas (and the
retention command) never make or drop partitions at the same time."""

import dataclasses
import datetime
from collections.abc import AsyncIterator

import asyncpg

# "audpart": partition maintenance of the audit trail, one process at a time.
MAINTENANCE_LOCK_KEY = 0x61756470617274
PARENT = "audit.audit_logs"
DEFAULT_PARTITION = "audit_logs_default"


@dataclasses.dataclass(frozen=True)
class Partition:
    name: str
    # None for the default partition, which takes every row no month takes.
    start: datetime.datetime | None
    end: datetime.datetime | None
    # PostgreSQL's estimate (pg_class.reltuples), 0 before the table was first analysed.
    estimated_rows: int


def month_start(moment: datetime.datetime) -> datetime.datetime:
    utc = moment.astimezone(datetime.UTC)
    return datetime.datetime(utc.year, utc.month, 1, tzinfo=datetime.UTC)


def add_months(start: datetime.datetime, months: int) -> datetime.datetime:
    """The first of the month `months` after (or before) the month starting at `start`."""
    index = start.year * 12 + start.month - 1 + months
    return datetime.datetime(index // 12, index % 12 + 1, 1, tzinfo=datetime.UTC)


def partition_name(start: datetime.datetime) -> str:
    return f"audit_logs_{start:%Y_%m}"


# How long maintenance waits for a table lock: while its request for an exclusive lock waits (on a
# long export's read, say), every reader of the trail queues behind it. It gives up, and tries again
# at its next run, rather than stall them.
LOCK_TIMEOUT = "5s"


async def lock_maintenance(conn: asyncpg.Connection) -> None:
    """Held until the caller's transaction ends; table locks after it wait at most LOCK_TIMEOUT."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MAINTENANCE_LOCK_KEY)
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


async def ensure_partitions(
    conn: asyncpg.Connection, now: datetime.datetime, months_ahead: int = 2
) -> list[str]:
    """Makes the partitions of `now`'s month and the `months_ahead` months after it that are missing,
    moving into each the rows of its range the default partition holds. Returns the names made."""
    made = []
    async with conn.transaction():
        await lock_maintenance(conn)
        existing = {partition.name for partition in await list_partitions(conn)}
        first = month_start(now)
        for offset in range(months_ahead + 1):
            start = add_months(first, offset)
            if partition_name(start) not in existing:
                await _make_month(conn, start, add_months(start, 1))
                made.append(partition_name(start))
    return made


async def _make_month(conn: asyncpg.Connection, start: datetime.datetime, end: datetime.datetime) -> None:
    name = f"audit.{partition_name(start)}"
    # Literals, not parameters: DDL takes none. Both come from datetimes, never from input.
    bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    # Taken first and held to the end: no row lands in the default between the move and the attach
    # (which would make the attach fail), and no lock is upgraded halfway.
    await conn.execute(f"LOCK TABLE audit.{DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
    await conn.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # Same column names on both sides, listed: the tables' column order need not agree.
    columns = ", ".join(await _column_names(conn))
    await conn.execute(
        f"WITH moved AS (DELETE FROM audit.{DEFAULT_PARTITION} WHERE created_at >= $1 AND created_at < $2"
        f" RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved",
        start,
        end,
    )
    # The bound as a constraint first: the attach then skips its scan of the new table.
    await conn.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {partition_name(start)}_bound"
        f" CHECK (created_at >= '{start.isoformat()}' AND created_at < '{end.isoformat()}')"
    )
    await conn.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {bounds}")
    await conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT {partition_name(start)}_bound")


async def _column_names(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT quote_ident(attname) AS name FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        PARENT,
    )
    return [row["name"] for row in rows]


async def list_partitions(conn: asyncpg.Connection) -> list[Partition]:
    """Every partition of audit_logs, months in order, the default last."""
    rows = await conn.fetch(
        r"""
SELECT c.relname AS name, b.bounds[1]::timestamptz AS start, b.bounds[2]::timestamptz AS "end",
       greatest(c.reltuples, 0)::bigint AS estimated_rows
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (
    SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)')
) AS b(bounds)
WHERE i.inhparent = $1::regclass
ORDER BY b.bounds IS NULL, 2
""",
        PARENT,
    )
    return [Partition(**row) for row in rows]


async def default_partition_rows(conn: asyncpg.Connection) -> int:
    """Rows no month partition took (the system status reports them): exact, and cheap, since the
    default is normally empty."""
    return await conn.fetchval(f"SELECT count(*) FROM audit.{DEFAULT_PARTITION}")


# -- what retention reads and removes ---------------------------------------------------------------
# Each runs inside the caller's transaction, which holds lock_maintenance and lock_for_archive.


async def exists(conn: asyncpg.Connection, table: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"audit.{table}")


async def lock_for_archive(conn: asyncpg.Connection, table: str) -> None:
    """No row is written to `table` until the transaction ends (reads go on): what is counted and
    exported is what is then removed."""
    await conn.execute(f"LOCK TABLE audit.{table} IN SHARE MODE")


def _older_than(before: datetime.datetime | None) -> tuple[str, list]:
    return ("WHERE created_at < $1", [before]) if before is not None else ("", [])


async def count_rows(conn: asyncpg.Connection, table: str, before: datetime.datetime | None = None) -> int:
    where, args = _older_than(before)
    return await conn.fetchval(f"SELECT count(*) FROM audit.{table} {where}", *args)


async def stream_rows(
    conn: asyncpg.Connection, table: str, before: datetime.datetime | None = None, batch: int = 1000
) -> AsyncIterator[list[str]]:
    """The rows of `table` (those older than `before`, when given) as JSON objects of every column,
    `batch` at a time, through a server-side cursor (closed once read, so that the table can be
    dropped in the same transaction). row_to_json gives each value as PostgreSQL writes it in JSON
    (details as an object), and json_populate_record reads it back."""
    where, args = _older_than(before)
    await conn.execute(
        f"DECLARE archive_rows NO SCROLL CURSOR FOR"
        f" SELECT row_to_json(t)::text FROM audit.{table} t {where} ORDER BY id",
        *args,
    )
    while rows := await conn.fetch(f"FETCH {int(batch)} FROM archive_rows"):
        yield [row[0] for row in rows]
    # Not in a `finally`: a transaction that failed midway ends, and takes the cursor with it.
    await conn.execute("CLOSE archive_rows")


async def drop_partition(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(f"ALTER TABLE {PARENT} DETACH PARTITION audit.{name}")
    await conn.execute(f"DROP TABLE audit.{name}")


async def delete_default_rows(conn: asyncpg.Connection, before: datetime.datetime) -> int:
    status = await conn.execute(f"DELETE FROM audit.{DEFAULT_PARTITION} WHERE created_at < $1", before)
    return int(status.split()[-1])
