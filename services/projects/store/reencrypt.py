"""SQL for the key-rotation command (services/projects/reencrypt.py): a keyset walk by id over each
encrypted column's sealed values, locked for the batch's transaction.

Only some rows of a column hold a sealed value: a non-secret env var's value is plaintext. An
expired certificate's row can no longer be updated at all (check_expiry_future is checked on every
UPDATE), so its private key stays under the key it was sealed with: the command skips those. now() is
the transaction's start time in both the walk and the CHECK, so the two agree on what has expired."""

import uuid

import asyncpg

# (table, column) -> the condition for a row to hold a sealed value.
SEALED_ROWS = {("env_vars", "value"): "is_secret"}
# (table, column) -> the condition for a sealed row the command can rewrite.
UPDATABLE_ROWS = {("certificates", "private_key"): "expires_at > now()"}


def _where(table: str, column: str, *, updatable: bool) -> str:
    conditions = [SEALED_ROWS.get((table, column), "true")]
    if updatable:
        conditions.append(UPDATABLE_ROWS.get((table, column), "true"))
    return " AND ".join(conditions)


async def count(conn: asyncpg.Connection, table: str, column: str) -> tuple[int, int]:
    """(sealed values, of which skipped: those the command cannot rewrite) in one column."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS sealed, count(*) FILTER (WHERE NOT ({_where(table, column, updatable=True)}))"
        f" AS skipped FROM {table} WHERE {_where(table, column, updatable=False)}"
    )
    return row["sealed"], row["skipped"]


async def batch(
    conn: asyncpg.Connection, table: str, column: str, *, after: uuid.UUID | None, limit: int, lock: bool
) -> list[asyncpg.Record]:
    """The next `limit` rewritable sealed values (id, value) after id `after`, in id order; with
    `lock`, locked until the transaction ends so that no writer changes them meanwhile."""
    return await conn.fetch(
        f"SELECT id, {column} AS value FROM {table}"
        f" WHERE {_where(table, column, updatable=True)} AND ($1::uuid IS NULL OR id > $1)"
        f" ORDER BY id LIMIT $2{' FOR UPDATE' if lock else ''}",
        after,
        limit,
    )


async def write(
    conn: asyncpg.Connection, table: str, column: str, values: list[tuple[uuid.UUID, str]]
) -> None:
    """Writes re-sealed values; updated_at stays: the value it holds has not changed."""
    await conn.executemany(f"UPDATE {table} SET {column} = $2 WHERE id = $1", values)
