"""SQL for identity.users. Records carry every column, the password hash included: it never leaves
the service (convert.py builds responses and events without it). A constraint a write runs into
is worded in constraint_messages.py."""

import json
import uuid

import asyncpg

from dockyard_kit import sql
from dockyard_kit.errors import constraint_wording
from services.identity.constraint_messages import MESSAGES

USER_COLUMNS = "id, username, email, password_hash, role, preferences, disabled_at, created_at, updated_at"

# Two-key advisory locks (first key below) never collide with the single-key locks of migrations and
# relays, nor with the outbox's own class.
_LOCK_CLASS = 0x69646E74  # "idnt"
_SETUP_LOCK = 1
_SUPER_ADMINS_LOCK = 2


async def insert_user(
    conn: asyncpg.Connection, *, username: str, email: str, password_hash: str, role: str, preferences=None
) -> asyncpg.Record:
    with constraint_wording(MESSAGES):
        return await conn.fetchrow(
            f"INSERT INTO users (username, email, password_hash, role, preferences)"
            f" VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING {USER_COLUMNS}",
            username,
            email,
            password_hash,
            role,
            json.dumps(preferences or {}),
        )


async def find_by_login(conn: asyncpg.Connection, login: str) -> asyncpg.Record | None:
    """The user signing in as `login`: a username (always lower case) or an email in any case."""
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE username = lower($1) OR lower(email) = lower($1)", login
    )


async def get_user(conn: asyncpg.Connection, user_id, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1{lock}", user_id)


async def count_users(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM users")


async def update_user(conn: asyncpg.Connection, user_id, changes: dict) -> asyncpg.Record:
    """Sets the given columns (of username, email, password_hash, role, preferences) and updated_at."""
    assignments, args = sql.update_set(changes, json_columns=("preferences",))
    with constraint_wording(MESSAGES):
        return await conn.fetchrow(
            f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {USER_COLUMNS}", user_id, *args
        )


async def set_disabled(conn: asyncpg.Connection, user_id, disabled: bool) -> asyncpg.Record:
    return await conn.fetchrow(
        f"UPDATE users SET disabled_at = CASE WHEN $2 THEN now() END, updated_at = now() WHERE id = $1"
        f" RETURNING {USER_COLUMNS}",
        user_id,
        disabled,
    )


async def delete_user(conn: asyncpg.Connection, user_id) -> None:
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)


async def lock_setup(conn: asyncpg.Connection) -> None:
    """Serialises first-run setups until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_CLASS, _SETUP_LOCK)


async def lock_super_admins(conn: asyncpg.Connection) -> None:
    """Serialises changes that may take away a super_admin until the transaction ends, so that two
    of them cannot each see the other super_admin and together leave none."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_CLASS, _SUPER_ADMINS_LOCK)


async def count_other_active_super_admins(conn: asyncpg.Connection, user_id) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM users WHERE role = 'super_admin' AND disabled_at IS NULL AND id <> $1", user_id
    )


async def share_a_team(conn: asyncpg.Connection, user_id, other_user_id) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM team_members a JOIN team_members b ON a.team_id = b.team_id"
        " WHERE a.user_id = $1 AND b.user_id = $2)",
        user_id,
        other_user_id,
    )


def _like_prefix(prefix: str) -> str:
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def list_users(
    conn: asyncpg.Connection,
    *,
    after: str | None,
    limit: int,
    role: str = "",
    prefix: str = "",
    team_id: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    """Users in username order after `after`, filtered. Only the filters given enter the query, so
    each shape of it gets a plan that uses its index."""
    conditions = sql.Conditions()
    if after is not None:
        conditions.add("username > $?", after)
    if role:
        conditions.add("role = $?", role)
    if prefix:
        pattern = conditions.param(_like_prefix(prefix))
        conditions.add(f"(username LIKE {pattern} OR lower(email) LIKE {pattern})")
    if team_id is not None:
        conditions.add("id IN (SELECT user_id FROM team_members WHERE team_id = $?)", team_id)
    return await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM users {conditions.where} ORDER BY username LIMIT {conditions.param(limit)}",
        *conditions.args,
    )
