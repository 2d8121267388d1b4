"""Env vars: an application's environment, one key at a time or from .env text. Secret values are
sealed at rest (dockyard_kit/sealing.py) and masked in every response and event (convert.py); only a
manager may reveal one (RevealEnvVar, or making it plain without a new value), and each reveal is a
secret.revealed event. Changing env vars needs a live application."""

import re
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import InvalidArgument, NotFound
from dockyard_kit.pagination import parse_page, split_page
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import Sealer
from services.projects import convert
from services.projects.credentials import MASK
from services.projects.domain import access, dotenv, events
from services.projects.domain.applications import authorize_application
from services.projects.domain.applications import not_found as application_not_found
from services.projects.store import env_vars as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("value", "is_secret")
MAX_KEY_LENGTH = 255
MAX_VALUE_BYTES = 64 * 1024
_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")
_SEALED_AT = ("env_vars", "value")


def not_found(key: str) -> NotFound:
    return NotFound(f"env var {key} not found")


def validate_key(key: str) -> str:
    if not key:
        raise InvalidArgument("key", "is required")
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidArgument(
            "key",
            f"must match ^[A-Z_][A-Z0-9_]*$ (upper-case letters, digits, _), up to {MAX_KEY_LENGTH} characters",
        )
    return key


def validate_value(value: str) -> str:
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidArgument("value", f"must be at most {MAX_VALUE_BYTES // 1024} KiB")
    if "\x00" in value:
        raise InvalidArgument("value", "must not contain NUL characters")
    return value


def parse_dotenv(text: str) -> dict[str, str]:
    """The keys and values .env text sets (the last of a repeated key counts), each checked; an
    error names its line."""
    wanted = {}
    for assignment in dotenv.parse(text):
        try:
            wanted[validate_key(assignment.key)] = validate_value(assignment.value)
        except InvalidArgument as error:
            raise dotenv.error(assignment.line, f"{assignment.key}: {error.description}") from None
    if not wanted:
        raise InvalidArgument("dotenv", "sets no variable")
    return wanted


async def _emit(
    conn: asyncpg.Connection, action: str, row, project_id, *, actor: str, mask_value: bool = False
) -> None:
    """env_var.<action> for `row`; the event names the project, which the row does not hold.
    `mask_value`: the value was a secret until this change, and events never carry one."""
    env_var = convert.env_var(row)
    if mask_value:
        env_var.value = MASK
    event = events_pb2.EnvVarChanged(env_var=env_var, project_id=str(project_id))
    await events.emit(conn, "env_var", action, row["id"], event, actor=actor)


async def _emit_reveal(conn: asyncpg.Connection, row, project_id, *, actor: str) -> None:
    revealed = events_pb2.SecretRevealed(
        project_id=str(project_id), resource_type="env_var", resource_id=str(row["id"]), what=row["key"]
    )
    await events.emit(conn, "secret", "revealed", row["id"], revealed, actor=actor)


def _stored(sealer: Sealer, env_var_id: uuid.UUID, value: str, is_secret: bool) -> str:
    return sealer.seal(*_SEALED_AT, env_var_id, value) if is_secret else value


def _plaintext(sealer: Sealer, row) -> str:
    return sealer.unseal(*_SEALED_AT, row["id"], row["value"]) if row["is_secret"] else row["value"]


async def _insert(
    conn: asyncpg.Connection, sealer: Sealer, application_id: uuid.UUID, key: str, value: str, is_secret: bool
) -> asyncpg.Record:
    env_var_id = uuid.uuid4()
    return await store.insert(
        conn,
        id=env_var_id,
        application_id=application_id,
        key=key,
        value=_stored(sealer, env_var_id, value, is_secret),
        is_secret=is_secret,
    )


async def _fetch(conn: asyncpg.Connection, application_id: uuid.UUID, key: str) -> asyncpg.Record:
    row = await store.fetch(conn, application_id, key)
    if row is None:
        raise not_found(key)
    return row


async def create_env_var(
    pool: asyncpg.Pool,
    sealer: Sealer,
    caller: Caller,
    application_id: uuid.UUID,
    *,
    key: str,
    value: str,
    is_secret: bool,
) -> asyncpg.Record:
    validate_key(key)
    validate_value(value)
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, live=True, lock=True
        )
        row = await _insert(conn, sealer, application_id, key, value, is_secret)
        await _emit(conn, "created", row, application["project_id"], actor=caller.user_id)
    return row


async def get_env_var(
    pool: SessionPool, caller: Caller, application_id: uuid.UUID, key: str
) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        await authorize_application(conn, caller, application_id, Level.READ)
        return await _fetch(conn, application_id, key)


async def list_env_vars(
    pool: SessionPool, caller: Caller, application_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list, str]:
    page = parse_page(page_size, page_token, {"list": "env_vars", "application_id": str(application_id)})
    async with caller_reads(pool, caller) as conn:
        await authorize_application(conn, caller, application_id, Level.READ)
        rows = await store.list_page(conn, application_id, after=page.after, limit=page.fetch_limit)
    return split_page(rows, page, "key")


async def update_env_var(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, application_id: uuid.UUID, key: str, changes: dict
) -> asyncpg.Record:
    """`changes`: value and/or is_secret. Making a variable secret seals its value. Making a secret
    plain with a new value stores that value; making it plain without one discloses the secret, so
    it is a manager's reveal (a secret.revealed event, and the updated event masks the value)."""
    if "value" in changes:
        validate_value(changes["value"])
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, live=True, lock=True
        )
        project_id = application["project_id"]
        current = await _fetch(conn, application_id, key)
        is_secret = changes.get("is_secret", current["is_secret"])
        unsealing = current["is_secret"] and not is_secret and "value" not in changes
        if unsealing:
            await access.authorize(
                conn,
                caller,
                project_id,
                Level.MANAGE,
                application_not_found(application_id),
                action=f"is_secret: making secret {key} plain without a new value reveals it, which",
            )
        value = changes["value"] if "value" in changes else _plaintext(sealer, current)
        row = await store.update(
            conn, current["id"], value=_stored(sealer, current["id"], value, is_secret), is_secret=is_secret
        )
        if unsealing:
            await _emit_reveal(conn, row, project_id, actor=caller.user_id)
        await _emit(conn, "updated", row, project_id, actor=caller.user_id, mask_value=unsealing)
    return row


async def delete_env_var(pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID, key: str) -> None:
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, live=True, lock=True
        )
        row = await store.delete(conn, application_id, key)
        if row is None:
            raise not_found(key)
        await _emit(conn, "deleted", row, application["project_id"], actor=caller.user_id)


async def import_env_vars(
    pool: asyncpg.Pool,
    sealer: Sealer,
    caller: Caller,
    application_id: uuid.UUID,
    *,
    text: str,
    secret: bool,
    replace: bool,
) -> tuple[list, list[str]]:
    """Sets every key of the .env text in one transaction (all or nothing): the rows it set, in key
    order, and the keys `replace` deleted. `secret` seals every value; a key that is already secret
    stays secret. Unchanged keys get no event."""
    wanted = parse_dotenv(text)
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, live=True, lock=True
        )
        project_id = application["project_id"]
        existing = {row["key"]: row for row in await store.all_of(conn, application_id)}
        rows = []
        for key in sorted(wanted):
            value, current = wanted[key], existing.get(key)
            if current is None:
                row = await _insert(conn, sealer, application_id, key, value, secret)
                await _emit(conn, "created", row, project_id, actor=caller.user_id)
            else:
                is_secret = secret or current["is_secret"]
                row = current
                if is_secret != current["is_secret"] or _plaintext(sealer, current) != value:
                    stored = _stored(sealer, current["id"], value, is_secret)
                    row = await store.update(conn, current["id"], value=stored, is_secret=is_secret)
                    await _emit(conn, "updated", row, project_id, actor=caller.user_id)
            rows.append(row)
        deleted_keys = sorted(set(existing) - set(wanted)) if replace else []
        for key in deleted_keys:
            row = await store.delete(conn, application_id, key)
            await _emit(conn, "deleted", row, project_id, actor=caller.user_id)
    return rows, deleted_keys


async def reveal_env_var(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, application_id: uuid.UUID, key: str
) -> tuple[asyncpg.Record, str]:
    """The variable and its plaintext value, for managers; records the reveal as an event."""
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(conn, caller, application_id, Level.MANAGE)
        row = await _fetch(conn, application_id, key)
        plaintext = _plaintext(sealer, row)
        await _emit_reveal(conn, row, application["project_id"], actor=caller.user_id)
    return row, plaintext
