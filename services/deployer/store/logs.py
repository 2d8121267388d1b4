"""SQL for deployment log lines. One worker writes a deployment's lines, one batch after another,
so within a deployment a later line always has a higher id and is visible no earlier than the ones
before it: a follower that asks for "after id N" never skips a line."""

import datetime
import uuid

import asyncpg

# Followers are told on this channel (payload: the deployment id) when a batch has committed.
NOTIFY_CHANNEL = "dockyard_deployment_logs"
LEVELS = ("debug", "info", "warn", "error")
COLUMNS = "id, deployment_id, level, message, created_at"


async def append(conn: asyncpg.Connection, deployment_id: uuid.UUID, lines: list[tuple[str, str]]) -> None:
    """Writes (level, message) lines in order, and tells followers at commit."""
    await conn.execute(
        "INSERT INTO deployment_logs (deployment_id, level, message)"
        " SELECT $1, level, message FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS l(level, message, n)"
        " ORDER BY n",
        deployment_id,
        [level for level, _ in lines],
        [message for _, message in lines],
    )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(deployment_id))


async def after(
    conn: asyncpg.Connection, deployment_id: uuid.UUID, after_id: int, levels: tuple[str, ...], limit: int
) -> list[asyncpg.Record]:
    """Lines after `after_id`, oldest first."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM deployment_logs WHERE deployment_id = $1 AND id > $2"
        " AND level = ANY($3::text[]) ORDER BY id LIMIT $4",
        deployment_id,
        after_id,
        list(levels),
        limit,
    )


async def delete_older_than(conn: asyncpg.Connection, age: datetime.timedelta, limit: int) -> int:
    """At most `limit` lines older than `age` (retention, in bounded batches)."""
    result = await conn.execute(
        "DELETE FROM deployment_logs WHERE (deployment_id, id) IN (SELECT deployment_id, id FROM"
        " deployment_logs WHERE created_at < clock_timestamp() - $1::interval LIMIT $2)",
        age,
        limit,
    )
    return int(result.split()[-1])


async def delete_for_deployment(conn: asyncpg.Connection, deployment_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM deployment_logs WHERE deployment_id = $1", deployment_id)
