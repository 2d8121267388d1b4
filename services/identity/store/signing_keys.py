"""identity.signing_keys: the JWT signing keys, private halves encrypted (see domain/tokens.py)."""

import datetime
import json

import asyncpg

# Serialises key creation across replicas, so two never create a successor at the same moment.
_KEY_MAINTENANCE_LOCK = 0x6A776B73  # "jwks"


async def lock_for_maintenance(conn: asyncpg.Connection) -> None:
    """Held until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _KEY_MAINTENANCE_LOCK)


async def list_unexpired(conn: asyncpg.Connection, now: datetime.datetime) -> list[asyncpg.Record]:
    """Every key still published at `now`, oldest first."""
    return await conn.fetch(
        "SELECT kid, algorithm, private_key_encrypted, master_key_id, public_jwk, created_at, retired_at,"
        " expires_at FROM signing_keys WHERE expires_at > $1 ORDER BY created_at, kid",
        now,
    )


async def insert_key(
    conn: asyncpg.Connection,
    *,
    kid: str,
    algorithm: str,
    private_key_encrypted: bytes,
    master_key_id: str,
    public_jwk: dict,
    created_at: datetime.datetime,
    retired_at: datetime.datetime,
    expires_at: datetime.datetime,
) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (kid, algorithm, private_key_encrypted, master_key_id, public_jwk,"
        " created_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)",
        kid,
        algorithm,
        private_key_encrypted,
        master_key_id,
        json.dumps(public_jwk),
        created_at,
        retired_at,
        expires_at,
    )


async def retire_signing_keys(
    conn: asyncpg.Connection, *, retired_at: datetime.datetime, expires_at: datetime.datetime
) -> None:
    """Every key that would sign past `retired_at` stops then, and stays published until `expires_at`."""
    await conn.execute(
        "UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at > $1",
        retired_at,
        expires_at,
    )


async def delete_expired(conn: asyncpg.Connection, now: datetime.datetime) -> None:
    """Expired keys verify nothing any more; their private halves are better gone."""
    await conn.execute("DELETE FROM signing_keys WHERE expires_at <= $1", now)
