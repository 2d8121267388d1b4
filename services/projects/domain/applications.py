"""Applications: create, read, list, update, scale, archive (the seed's soft delete), restore,
purge, and status changes. Access rules: domain/access.py; allowed status changes:
domain/application_status.py.

An archived application keeps its name (so it can be restored) until it is purged; it leaves lists
and refuses every change but restore and purge."""

import json
import re
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import SECRET_MASK, Sealer
from services.projects import convert
from services.projects.domain import access, application_config, application_status, cascade, events
from services.projects.domain.application_status import ARCHIVED, LIVE_STATUSES
from services.projects.store import applications as store
from services.projects.store import cascade as cascade_store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("name", "type", "source_type", "source_config", "docker_config", "replicas")
# Type -> the source types it may be built from.
SOURCE_TYPES = {
    "docker": ("docker",),
    "git": ("github", "gitlab", "bitbucket", "gitea"),
    "compose": ("docker_compose",),
}
MAX_CONFIG_BYTES = 64 * 1024
REGISTRY_PASSWORD_SEALED_AT = ("applications", "registry_password")
# check_app_name_format: names become Docker service and network host names.
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def not_found(application_id: uuid.UUID) -> NotFound:
    return NotFound(f"application {application_id} not found")


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            "name",
            "must be a DNS label: 1-63 lower-case letters, digits and hyphens, starting and ending"
            " with a letter or digit",
        )
    return name


def validate_type(type_: str) -> str:
    if type_ not in SOURCE_TYPES:
        raise InvalidArgument("type", f"must be one of {', '.join(SOURCE_TYPES)}")
    return type_


def validate_source_type(type_: str, source_type: str) -> str:
    allowed = SOURCE_TYPES[type_]
    if source_type not in allowed:
        raise InvalidArgument(
            "source_type", f"a {type_} application's source_type is one of {', '.join(allowed)}"
        )
    return source_type


def validate_replicas(replicas: int) -> int:
    if replicas < 0:
        raise InvalidArgument("replicas", "must be 0 or more")
    return replicas


def validate_config(field: str, config: dict) -> dict:
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_CONFIG_BYTES // 1024} KiB of JSON")
    return config


def _sealed_registry_password(
    sealer: Sealer, application_id: uuid.UUID, docker_config: dict, stored: str | None
) -> str | None:
    """What applications.registry_password holds for `docker_config`: its password sealed, the
    stored one when it gives the mask back, None when it names no registry."""
    password = application_config.registry_password(docker_config)
    if password is None:
        return None
    if password == SECRET_MASK:
        if stored is None:
            raise InvalidArgument(
                application_config.PASSWORD_PATH, "give the password (the mask keeps a stored one only)"
            )
        return stored
    return sealer.seal(*REGISTRY_PASSWORD_SEALED_AT, application_id, password)


def validate_status_filter(status: str, *, archived: bool) -> str | None:
    if not status:
        return None
    allowed = (ARCHIVED,) if archived else LIVE_STATUSES
    if status not in allowed:
        hint = " (archived applications are listed with show_archived)" if status == ARCHIVED else ""
        raise InvalidArgument("status", f"must be one of {', '.join(allowed)}{hint}")
    return status


def _event(row, previous_status: str = "") -> events_pb2.ApplicationChanged:
    return events_pb2.ApplicationChanged(
        application=convert.application(row), previous_status=previous_status
    )


async def authorize_application(
    conn: asyncpg.Connection,
    caller: Caller,
    application_id: uuid.UUID,
    needed: Level,
    *,
    live: bool = False,
    lock: bool = False,
) -> asyncpg.Record:
    """The application once the caller holds `needed` on its project (an application the caller may
    not see is NOT_FOUND, like one that does not exist). `live`: refuse an archived one
    (FAILED_PRECONDITION). `lock`: the row is locked FOR UPDATE, after the project's lock."""
    row = await store.fetch(conn, application_id)
    if row is None:
        raise not_found(application_id)
    await access.authorize(conn, caller, row["project_id"], needed, not_found(application_id))
    if lock:
        row = await store.fetch(conn, application_id, lock=True)
        if row is None:  # purged meanwhile
            raise not_found(application_id)
    if live and row["status"] == ARCHIVED:
        raise FailedPrecondition(f"application {application_id} is archived; restore it first")
    return row


async def _check_name_free(conn: asyncpg.Connection, project_id: uuid.UUID, name: str) -> None:
    holder = await store.holder_of_name(conn, project_id, name)
    if holder is None:
        return
    if holder["status"] == ARCHIVED:
        raise AlreadyExists(
            f"application name {name!r} is still held by archived application {holder['id']}; purge it first",
            field="name",
        )
    raise AlreadyExists(f"application name {name!r} already exists in this project", field="name")


async def create_application(
    pool: asyncpg.Pool,
    sealer: Sealer,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    name: str,
    type: str,
    source_type: str,
    source_config: dict,
    docker_config: dict,
    replicas: int | None,
) -> asyncpg.Record:
    name = validate_name(name)
    type = validate_type(type)
    # A docker or compose application has only one possible source type: it may be left out.
    if not source_type and len(SOURCE_TYPES[type]) == 1:
        source_type = SOURCE_TYPES[type][0]
    source_type = validate_source_type(type, source_type)
    replicas = validate_replicas(1 if replicas is None else replicas)
    source_config = application_config.check_source_config(
        type, validate_config("source_config", source_config)
    )
    docker_config = application_config.check_docker_config(
        type, validate_config("docker_config", docker_config)
    )
    application_id = uuid.uuid4()
    registry_password = _sealed_registry_password(sealer, application_id, docker_config, None)
    async with caller_transaction(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.WRITE)
        await _check_name_free(conn, project_id, name)
        row = await store.insert(
            conn,
            id=application_id,
            project_id=project_id,
            name=name,
            type=type,
            source_type=source_type,
            source_config=source_config,
            docker_config=application_config.with_password(docker_config, SECRET_MASK),
            replicas=replicas,
            registry_password=registry_password,
        )
        await events.emit(conn, "application", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_application(pool: SessionPool, caller: Caller, application_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        return await authorize_application(conn, caller, application_id, Level.READ)


async def list_applications(
    pool: SessionPool,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    page_size: int,
    page_token: str,
    status: str,
    type: str,
    show_archived: bool,
) -> tuple[list, str]:
    status_filter = validate_status_filter(status, archived=show_archived)
    type_filter = validate_type(type) if type else None
    query = {
        "list": "applications",
        "project_id": str(project_id),
        "status": status,
        "type": type,
        "archived": show_archived,
    }
    page = parse_page(page_size, page_token, query)
    async with caller_reads(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.READ)
        rows = await store.list_in_project(
            conn,
            project_id,
            archived=show_archived,
            status=status_filter,
            type=type_filter,
            after=page.newest_first_after,
            limit=page.fetch_limit,
        )
    return split_page(rows, page, newest_first_key)


async def update_application(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, application_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    if "name" in changes:
        validate_name(changes["name"])
    if "type" in changes:
        validate_type(changes["type"])
    if "replicas" in changes:
        validate_replicas(changes["replicas"])
    for field in ("source_config", "docker_config"):
        if field in changes:
            validate_config(field, changes[field])
    async with caller_transaction(pool, caller) as conn:
        row = await authorize_application(conn, caller, application_id, Level.WRITE, live=True, lock=True)
        # The type, source type and configs must still agree once all are applied.
        type_ = changes.get("type", row["type"])
        validate_source_type(type_, changes.get("source_type", row["source_type"]))
        changes = {**changes, **_checked_configs(sealer, row, type_, changes)}
        if changes.get("name", row["name"]) != row["name"]:
            await _check_name_free(conn, row["project_id"], changes["name"])
        row = await store.update(conn, application_id, changes)
        await events.emit(conn, "application", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


def _checked_configs(sealer: Sealer, row, type_: str, changes: dict) -> dict:
    """The configs an update sets, and the registry password then stored. A new type has the
    configs it keeps checked too (a git application's source_config is not a docker one's)."""
    source_config = changes.get("source_config", json.loads(row["source_config"]))
    docker_config = changes.get("docker_config", json.loads(row["docker_config"]))
    checked = {}
    if "source_config" in changes or "type" in changes:
        checked["source_config"] = application_config.check_source_config(type_, source_config)
    if "docker_config" in changes or "type" in changes:
        checked["docker_config"] = application_config.check_docker_config(type_, docker_config)
    if "docker_config" in changes:
        config = checked["docker_config"]
        checked["registry_password"] = _sealed_registry_password(
            sealer, row["id"], config, row["registry_password"]
        )
        checked["docker_config"] = application_config.with_password(config, SECRET_MASK)
    return checked


async def scale_application(
    pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID, replicas: int
) -> asyncpg.Record:
    validate_replicas(replicas)
    async with caller_transaction(pool, caller) as conn:
        before = await authorize_application(conn, caller, application_id, Level.WRITE, live=True, lock=True)
        row = await store.update(conn, application_id, {"replicas": replicas})
        await events.emit(conn, "application", "scaled", row["id"], _event(row), actor=caller.user_id)
        if before["status"] in ("running", "stopped") and before["replicas"] != replicas:
            # Until the deployer has applied it to the service (deployer.application.scaled): running
            # then, or stopped at 0 or when it has no service.
            row = await set_status(conn, application_id, "scaling", actor=caller.user_id)
    return row


async def archive_application(
    pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID
) -> asyncpg.Record:
    """DeleteApplication: the seed's soft delete; the proto gives it to managers."""
    async with caller_transaction(pool, caller) as conn:
        before = await authorize_application(conn, caller, application_id, Level.MANAGE, lock=True)
        if before["status"] == ARCHIVED:
            raise FailedPrecondition(f"application {application_id} is already archived")
        row = await store.archive(conn, application_id)
        await events.emit(
            conn, "application", "archived", row["id"], _event(row, before["status"]), actor=caller.user_id
        )
    return row


async def restore_application(
    pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID
) -> asyncpg.Record:
    async with caller_transaction(pool, caller) as conn:
        before = await authorize_application(conn, caller, application_id, Level.MANAGE, lock=True)
        if before["status"] != ARCHIVED:
            raise FailedPrecondition(f"application {application_id} is not archived")
        row = await store.restore(conn, application_id)
        await events.emit(
            conn, "application", "restored", row["id"], _event(row, ARCHIVED), actor=caller.user_id
        )
    return row


async def purge_application(pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID) -> None:
    """Removes an archived application for good, with its git source, env vars, and the domains
    routed to it (and their certificates): one deleted event per row, children first."""
    async with caller_transaction(pool, caller) as conn:
        row = await authorize_application(conn, caller, application_id, Level.MANAGE, lock=True)
        if row["status"] != ARCHIVED:
            raise FailedPrecondition(
                f"application {application_id} is not archived; delete (archive) it first"
            )
        volumes = await cascade_store.mounted_volumes(conn, "application_id", application_id)
        if volumes:
            raise FailedPrecondition(
                f"application {application_id} still mounts volume(s) {', '.join(volumes)};"
                " unmount or delete them first"
            )
        children = await cascade_store.application_children(conn, application_id)
        await cascade_store.delete_domains_targeting(conn, "application", application_id)
        row = await store.delete(conn, application_id)
        await cascade.emit_deleted(conn, children, actor=caller.user_id)
        await events.emit(conn, "application", "deleted", row["id"], _event(row), actor=caller.user_id)


async def set_status(
    conn: asyncpg.Connection, application_id: uuid.UUID, new_status: str, *, actor: str
) -> asyncpg.Record:
    """A status change (from the deployer's events), inside the caller's transaction: refused
    (FAILED_PRECONDITION) unless application_status allows it; the same status again changes
    nothing (a redelivered event); otherwise emits application.status_changed."""
    row = await store.fetch(conn, application_id, lock=True)
    if row is None:
        raise not_found(application_id)
    previous = row["status"]
    if previous == new_status:
        return row
    application_status.check_change(previous, new_status)
    row = await store.update(conn, application_id, {"status": new_status})
    await events.emit(conn, "application", "status_changed", row["id"], _event(row, previous), actor=actor)
    return row
