"""Projects: create, read, list, update, delete, stats. Access rules: domain/access.py."""

import json
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit import identity_read_model
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import InvalidArgument, PermissionDenied
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level, check, require_creator
from services.projects import convert
from services.projects.domain import access, cascade, events
from services.projects.store import cascade as cascade_store
from services.projects.store import projects as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("name", "description", "team_id", "metadata")
MAX_METADATA_BYTES = 64 * 1024


def validate_name(name: str) -> str:
    name = name.strip()
    if not 3 <= len(name) <= 100:
        raise InvalidArgument("name", "must be 3-100 characters")
    return name


def validate_metadata(metadata: dict) -> dict:
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise InvalidArgument("metadata", f"must be at most {MAX_METADATA_BYTES // 1024} KiB of JSON")
    return metadata


def parse_metadata_filter(metadata_contains: str, tag: str) -> dict | None:
    """The JSON object a project's metadata must contain, from the list request's filters."""
    contains: dict = {}
    if metadata_contains:
        try:
            contains = json.loads(metadata_contains)
        except ValueError:
            raise InvalidArgument("metadata_contains", "must be a JSON object") from None
        if not isinstance(contains, dict):
            raise InvalidArgument("metadata_contains", "must be a JSON object")
    if tag:
        tags = contains.get("tags", [])
        if not isinstance(tags, list):
            raise InvalidArgument(
                "tag", "cannot be combined with a metadata_contains whose tags is not a list"
            )
        contains["tags"] = [*tags, tag]
    return contains or None


async def _check_team(conn: asyncpg.Connection, caller: Caller, team_id: uuid.UUID | None) -> None:
    """Only a team's owners and admins (or platform admins) may give it a project."""
    if team_id is None or caller.is_admin:
        return
    if await identity_read_model.team_role(conn, team_id, caller.user_id) not in ("owner", "admin"):
        raise PermissionDenied(
            "team_id: attaching a project to a team needs owner or admin rights in that team"
        )


def _event(row) -> events_pb2.ProjectChanged:
    return events_pb2.ProjectChanged(project=convert.project(row))


async def create_project(
    pool: asyncpg.Pool, caller: Caller, *, name: str, description: str, team_id, metadata: dict
) -> asyncpg.Record:
    require_creator(caller)
    name = validate_name(name)
    metadata = validate_metadata(metadata)
    async with caller_transaction(pool, caller) as conn:
        await _check_team(conn, caller, team_id)
        row = await store.insert(
            conn,
            owner_id=caller.user_id,
            name=name,
            description=description,
            team_id=team_id,
            metadata=metadata,
        )
        await events.emit(conn, "project", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_project(pool: SessionPool, caller: Caller, project_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        return await access.authorize_project(conn, caller, project_id, Level.READ)


async def list_projects(
    pool: SessionPool,
    caller: Caller,
    *,
    page_size: int,
    page_token: str,
    search: str,
    team_id: uuid.UUID | None,
    metadata_contains: dict | None,
) -> tuple[list, str]:
    query = {
        "list": "projects",
        "search": search,
        "team_id": str(team_id or ""),
        "metadata": metadata_contains,
    }
    page = parse_page(page_size, page_token, query)
    async with caller_reads(pool, caller) as conn:
        rows = await store.list_visible(
            conn,
            caller.user_id,
            all_projects=caller.is_admin,
            limited_to=[uuid.UUID(p) for p in caller.project_ids] if caller.project_limited else None,
            after=page.newest_first_after,
            limit=page.fetch_limit,
            search=search or None,
            team_id=team_id,
            metadata_contains=metadata_contains,
        )
    return split_page(rows, page, newest_first_key)


async def update_project(
    pool: asyncpg.Pool, caller: Caller, project_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    if "name" in changes:
        changes["name"] = validate_name(changes["name"])
    if "metadata" in changes:
        changes["metadata"] = validate_metadata(changes["metadata"])
    async with caller_transaction(pool, caller) as conn:
        project = await access.authorize_project(conn, caller, project_id, Level.MANAGE)
        if "team_id" in changes and changes["team_id"] != project["team_id"]:
            # Moving is the owner's: a team's manager could hand the project to a team of their own.
            check(
                caller,
                project,
                Level.OWN,
                access.project_not_found(project_id),
                action="team_id: moving a project to another team",
            )
            await _check_team(conn, caller, changes["team_id"])
        row = await store.update(conn, project_id, changes)
        await events.emit(conn, "project", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


async def delete_project(pool: asyncpg.Pool, caller: Caller, project_id: uuid.UUID) -> None:
    async with caller_transaction(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.OWN)
        await delete_with_children(conn, project_id, actor=caller.user_id)


async def delete_with_children(conn: asyncpg.Connection, project_id: uuid.UUID, *, actor: str) -> None:
    """Deletes a project and everything in it, one deleted event per row, children first."""
    children = await cascade_store.project_children(conn, project_id)
    row = await store.delete(conn, project_id)
    if row is None:
        return
    await cascade.emit_deleted(conn, children, actor=actor)
    await events.emit(conn, "project", "deleted", row["id"], _event(row), actor=actor)


async def project_stats(pool: SessionPool, caller: Caller, project_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.READ)
        return await store.stats(conn, project_id)
