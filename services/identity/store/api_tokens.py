"""identity.api_tokens: automation tokens, stored as SHA-256 hashes of their secrets."""

import datetime
import uuid

import asyncpg

from dockyard_kit.errors import constraint_wording
from services.identity.constraint_messages import MESSAGES

_COLUMNS = "id, user_id, name, prefix, scope, project_ids, expires_at, created_at, last_used_at, revoked_at"


async def insert_api_token(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    name: str,
    token_hash: bytes,
    prefix: str,
    scope: str,
    project_ids: list[uuid.UUID],
    expires_at: datetime.datetime,
) -> asyncpg.Record:
    # The name is free text: its value is given, not read back from the violation's detail.
    with constraint_wording(MESSAGES, name=name):
        return await conn.fetchrow(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope, project_ids, expires_at)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
            user_id,
            name,
            token_hash,
            prefix,
            scope,
            project_ids,
            expires_at,
        )


async def list_active(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The user's tokens that were not revoked (expired ones included: their owner may want to see
    which ones to replace), newest first."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL"
        " ORDER BY created_at DESC, id DESC",
        user_id,
    )


async def revoke(
    conn: asyncpg.Connection, token_id: uuid.UUID, user_id: uuid.UUID, now: datetime.datetime
) -> asyncpg.Record | None:
    """Revokes one of the user's tokens; None when the user has no such (unrevoked) token."""
    return await conn.fetchrow(
        f"UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
        f" RETURNING {_COLUMNS}",
        token_id,
        user_id,
        now,
    )


async def use_by_hash(
    conn: asyncpg.Connection, token_hash: bytes, now: datetime.datetime
) -> asyncpg.Record | None:
    """The token with this secret, if it is neither revoked nor expired, its last use set to now."""
    return await conn.fetchrow(
        f"UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
        f" RETURNING {_COLUMNS}",
        token_hash,
        now,
    )
