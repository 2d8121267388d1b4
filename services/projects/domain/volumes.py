"""Persistent volumes of a project, each mounted by at most one application or database of the same
project. Access rules: domain/access.py (reads need READ, changes WRITE). Names are unique per
project; the Docker host's global name, docker_name, is derived from the project at creation (the
migration's derive_volume_docker_name), so two projects' `data` volumes neither clash nor tell
either project of the other."""

import re
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import InvalidArgument, NotFound
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level
from services.projects import convert
from services.projects.domain import access, events
from services.projects.domain.domains import check_target
from services.projects.store import volumes as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("mount_path", "size_gb", "application_id", "database_id")
TYPES = ("docker_volume", "nfs", "s3")
DEFAULT_TYPE = "docker_volume"
MAX_MOUNT_PATH_CHARS = 500
# The mount columns and what each points at.
MOUNTS = {"application_id": "application", "database_id": "database"}

# Docker's own rule for volume names (the migration's check_volume_name_format).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def validate_name(name: str) -> str:
    if not name:
        raise InvalidArgument("name", "is required")
    if not _NAME.match(name):
        raise InvalidArgument(
            "name",
            "must be a Docker volume name: 1-255 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


def validate_type(volume_type: str) -> str:
    volume_type = volume_type or DEFAULT_TYPE
    if volume_type not in TYPES:
        raise InvalidArgument("type", f"must be one of {', '.join(TYPES)}")
    return volume_type


def validate_mount_path(mount_path: str) -> str:
    if not mount_path.startswith("/"):
        raise InvalidArgument("mount_path", "must be an absolute path inside the container (starting with /)")
    if any(character.isspace() for character in mount_path):
        raise InvalidArgument("mount_path", "must not contain white space")
    if len(mount_path) > MAX_MOUNT_PATH_CHARS:
        raise InvalidArgument("mount_path", f"must be at most {MAX_MOUNT_PATH_CHARS} characters")
    return mount_path


def validate_size(size_gb: int) -> int:
    if size_gb <= 0:
        raise InvalidArgument("size_gb", "must be greater than 0")
    return size_gb


def _check_single_mount(mount: dict, changed: set[str]) -> None:
    """`mount`: application_id and database_id as they will be; `changed`: those the request sets."""
    if mount["application_id"] is not None and mount["database_id"] is not None:
        field = "database_id" if "database_id" in changed else "application_id"
        other = "application_id" if field == "database_id" else "database_id"
        raise InvalidArgument(
            field,
            f'a volume is mounted by an application or a database, not both; unmount it first ({other} "")',
        )


async def _check_mounts(
    conn: asyncpg.Connection, project_id: uuid.UUID, mount: dict, changed: set[str]
) -> None:
    _check_single_mount(mount, changed)
    for column in changed:
        if mount[column] is not None:
            await check_target(conn, project_id, MOUNTS[column], mount[column], column)


def _not_found(volume_id: uuid.UUID) -> NotFound:
    return NotFound(f"volume {volume_id} not found")


async def _authorize_volume(
    conn: asyncpg.Connection, caller: Caller, volume_id: uuid.UUID, needed: Level
) -> asyncpg.Record:
    row = await store.fetch(conn, volume_id)
    if row is None:
        raise _not_found(volume_id)
    await access.authorize(conn, caller, row["project_id"], needed, _not_found(volume_id))
    return row


def _event(row) -> events_pb2.VolumeChanged:
    return events_pb2.VolumeChanged(volume=convert.volume(row))


async def create_volume(
    pool: asyncpg.Pool,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    name: str,
    volume_type: str,
    mount_path: str,
    size_gb: int,
    application_id: uuid.UUID | None,
    database_id: uuid.UUID | None,
) -> asyncpg.Record:
    fields = {
        "name": validate_name(name),
        "type": validate_type(volume_type),
        "mount_path": validate_mount_path(mount_path),
        "size_gb": validate_size(size_gb),
        "application_id": application_id,
        "database_id": database_id,
    }
    async with caller_transaction(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.WRITE)
        await _check_mounts(conn, project_id, fields, set(MOUNTS))
        row = await store.insert(conn, project_id, fields)
        await events.emit(conn, "volume", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_volume(pool: SessionPool, caller: Caller, volume_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        return await _authorize_volume(conn, caller, volume_id, Level.READ)


async def list_volumes(
    pool: SessionPool, caller: Caller, project_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list, str]:
    page = parse_page(page_size, page_token, {"list": "volumes", "project_id": str(project_id)})
    async with caller_reads(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.READ)
        rows = await store.list_for_project(
            conn, project_id, after=page.newest_first_after, limit=page.fetch_limit
        )
    return split_page(rows, page, newest_first_key)


async def update_volume(
    pool: asyncpg.Pool, caller: Caller, volume_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    """`changes`: a subset of UPDATABLE_FIELDS; application_id or database_id None unmounts."""
    if "mount_path" in changes:
        validate_mount_path(changes["mount_path"])
    if "size_gb" in changes:
        validate_size(changes["size_gb"])
    async with caller_transaction(pool, caller) as conn:
        current = await _authorize_volume(conn, caller, volume_id, Level.WRITE)
        mount = {column: changes.get(column, current[column]) for column in MOUNTS}
        await _check_mounts(conn, current["project_id"], mount, set(MOUNTS) & changes.keys())
        row = await store.update(conn, volume_id, changes)
        if row is None:
            raise _not_found(volume_id)
        await events.emit(conn, "volume", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


async def delete_volume(pool: asyncpg.Pool, caller: Caller, volume_id: uuid.UUID) -> None:
    async with caller_transaction(pool, caller) as conn:
        await _authorize_volume(conn, caller, volume_id, Level.WRITE)
        row = await store.delete(conn, volume_id)
        if row is None:
            raise _not_found(volume_id)
        await events.emit(conn, "volume", "deleted", row["id"], _event(row), actor=caller.user_id)
