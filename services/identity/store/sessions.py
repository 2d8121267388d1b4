"""identity.refresh_tokens: sessions as families of rotating refresh tokens, stored as SHA-256 hashes."""

import datetime
import uuid

import asyncpg

_COLUMNS = "id, family_id, user_id, created_at, expires_at, used_at, revoked_at"


async def insert_refresh_token(
    conn: asyncpg.Connection,
    *,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    token_hash: bytes,
    expires_at: datetime.datetime,
    client_ip: str,
    user_agent: str,
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at, client_ip, user_agent)"
        " VALUES ($1, $2, $3, $4, $5::inet, $6)",
        family_id,
        user_id,
        token_hash,
        expires_at,
        client_ip or None,
        user_agent or None,
    )


async def lock_by_hash(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """The token, locked until the transaction ends: two refreshes of one token run one at a time,
    so the second sees the first's use."""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE", token_hash
    )


async def mark_used(conn: asyncpg.Connection, token_id: uuid.UUID, now: datetime.datetime) -> None:
    await conn.execute("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1", token_id, now)


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID, now: datetime.datetime) -> bool:
    """Whether the family had a token left to revoke (False: it was revoked before)."""
    result = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
        now,
    )
    return int(result.split()[-1]) > 0


async def revoke_user_sessions(
    conn: asyncpg.Connection, user_id: uuid.UUID, now: datetime.datetime
) -> list[uuid.UUID]:
    """The families (sessions) that had a token left to revoke."""
    rows = await conn.fetch(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"
        " RETURNING family_id",
        user_id,
        now,
    )
    return sorted({row["family_id"] for row in rows})


async def delete_expired(conn: asyncpg.Connection, expired_before: datetime.datetime) -> int:
    result = await conn.execute("DELETE FROM refresh_tokens WHERE expires_at < $1", expired_before)
    return int(result.split()[-1])
