"""Managed databases: create (with generated credentials, sealed at rest), read, list, update,
delete, and reveal the credentials to managers. Access rules: domain/access.py."""

import dataclasses
import json
import re
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import Sealer
from services.projects import convert, credentials
from services.projects.domain import access, cascade, events
from services.projects.store import cascade as cascade_store
from services.projects.store import databases as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("version", "config")
TYPES = tuple(credentials.DEFAULT_VERSIONS)
STATUSES = ("initializing", "running", "stopped", "failed")
MAX_CONFIG_BYTES = 64 * 1024
# Where the connection string is sealed (its associated data).
SEALED_AT = ("databases", "connection_string")

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,49}")


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    connection_string: str


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            "name", "must start with a lower-case letter, then up to 62 lower-case letters, digits, _ or -"
        )
    return name


def validate_type(db_type: str) -> str:
    if db_type not in TYPES:
        raise InvalidArgument("type", f"must be one of {', '.join(TYPES)}")
    return db_type


def validate_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidArgument("status", f"must be one of {', '.join(STATUSES)}")
    return status


def validate_version(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise InvalidArgument(
            "version", "must be 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return version


def validate_config(config: dict) -> dict:
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise InvalidArgument("config", f"must be at most {MAX_CONFIG_BYTES // 1024} KiB of JSON")
    return config


def _not_found(database_id: uuid.UUID) -> NotFound:
    return NotFound(f"database {database_id} not found")


def _event(row) -> events_pb2.DatabaseChanged:
    return events_pb2.DatabaseChanged(database=convert.database(row))


async def _authorized(conn: asyncpg.Connection, caller: Caller, database_id: uuid.UUID, needed: Level):
    """The database, once the caller holds `needed` on its project (the same NOT_FOUND for an
    unknown id and for one the caller may not see)."""
    row = await store.fetch(conn, database_id)
    if row is None:
        raise _not_found(database_id)
    await access.authorize(conn, caller, row["project_id"], needed, _not_found(database_id))
    return row


async def create_database(
    pool: asyncpg.Pool,
    sealer: Sealer,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    name: str,
    db_type: str,
    version: str,
    config: dict,
) -> asyncpg.Record:
    name = validate_name(name)
    db_type = validate_type(db_type)
    version = validate_version(version) if version else credentials.DEFAULT_VERSIONS[db_type]
    config = validate_config(config)
    async with caller_transaction(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.WRITE)
        # The id is part of the ciphertext's associated data, so it is chosen before the insert.
        database_id = uuid.uuid4()
        username = credentials.generate_username(name)
        connection = credentials.connection_string(db_type, name, username, credentials.generate_password())
        row = await store.insert(
            conn,
            database_id=database_id,
            project_id=project_id,
            name=name,
            db_type=db_type,
            version=version,
            config=config,
            username=username,
            sealed_connection=sealer.seal(*SEALED_AT, database_id, connection),
        )
        await events.emit(conn, "database", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_database(pool: SessionPool, caller: Caller, database_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        return await _authorized(conn, caller, database_id, Level.READ)


async def list_databases(
    pool: SessionPool,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    page_size: int,
    page_token: str,
    db_type: str,
    status: str,
) -> tuple[list, str]:
    if db_type:
        validate_type(db_type)
    if status:
        validate_status(status)
    query = {"list": "databases", "project_id": str(project_id), "type": db_type, "status": status}
    page = parse_page(page_size, page_token, query)
    async with caller_reads(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.READ)
        rows = await store.list_in_project(
            conn,
            project_id,
            after=page.newest_first_after,
            limit=page.fetch_limit,
            db_type=db_type or None,
            status=status or None,
        )
    return split_page(rows, page, newest_first_key)


async def update_database(
    pool: asyncpg.Pool, caller: Caller, database_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    if "version" in changes:
        changes["version"] = validate_version(changes["version"])
    if "config" in changes:
        changes["config"] = validate_config(changes["config"])
    async with caller_transaction(pool, caller) as conn:
        await _authorized(conn, caller, database_id, Level.WRITE)
        row = await store.update(conn, database_id, changes)
        if row is None:
            raise _not_found(database_id)
        await events.emit(conn, "database", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


async def delete_database(pool: asyncpg.Pool, caller: Caller, database_id: uuid.UUID) -> None:
    """Refused while volumes are mounted by it; domains routed to it (and their certificates) go with it."""
    async with caller_transaction(pool, caller) as conn:
        database = await _authorized(conn, caller, database_id, Level.WRITE)
        mounted = await cascade_store.mounted_volumes(conn, "database_id", database_id)
        if mounted:
            raise FailedPrecondition(
                f"database {database['name']} still mounts volume(s) {', '.join(mounted)}:"
                " delete them or move them off it first"
            )
        children = await cascade_store.target_children(conn, "database", database_id)
        await cascade_store.delete_domains_targeting(conn, "database", database_id)
        row = await store.delete(conn, database_id)
        if row is None:
            raise _not_found(database_id)
        await cascade.emit_deleted(conn, children, actor=caller.user_id)
        await events.emit(conn, "database", "deleted", row["id"], _event(row), actor=caller.user_id)


async def reveal_credentials(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, database_id: uuid.UUID
) -> Credentials:
    """The plaintext credentials, for managers of the project; the reveal is an event in the same
    transaction, so nobody reads them unrecorded."""
    async with caller_transaction(pool, caller) as conn:
        row = await _authorized(conn, caller, database_id, Level.MANAGE)
        sealed = await store.sealed_connection_string(conn, database_id)
        if sealed is None:
            raise _not_found(database_id)
        connection = sealer.unseal(*SEALED_AT, database_id, sealed)
        revealed = events_pb2.SecretRevealed(
            project_id=str(row["project_id"]),
            resource_type="database",
            resource_id=str(database_id),
            what="credentials",
        )
        await events.emit(conn, "secret", "revealed", database_id, revealed, actor=caller.user_id)
    return Credentials(
        username=row["username"],
        password=credentials.password_of(connection, row["username"]),
        connection_string=connection,
    )
