"""Access to a project for the projects service: the decisions themselves are the kit's
(dockyard_kit/project_access.py, shared with the deployer); here the data they need (the project
row, the caller's role in its team) is loaded by `authorize`."""

import uuid

import asyncpg

from dockyard_kit.auth import Caller
from dockyard_kit.errors import DomainError, NotFound
from dockyard_kit.project_access import Level, check
from services.projects.store import projects as project_store


def project_not_found(project_id: uuid.UUID) -> NotFound:
    return NotFound(f"project {project_id} not found")


async def authorize(
    conn: asyncpg.Connection,
    caller: Caller,
    project_id: uuid.UUID,
    needed: Level,
    not_found: DomainError,
    *,
    action: str = "this",
):
    """The project (with the caller's team_role) once the caller holds `needed` on it; otherwise
    `not_found` or PERMISSION_DENIED (naming `action`). For a change (above READ) it is locked FOR
    SHARE, so it cannot be deleted under the change being made; a read takes no lock (a row lock
    is a write). Runs as the caller (store/session.py), so row-level security applies too."""
    project = await project_store.fetch_for_caller(conn, project_id, caller.user_id, lock=needed > Level.READ)
    if project is None:
        raise not_found
    check(caller, project, needed, not_found, action=action)
    return project


async def authorize_project(conn: asyncpg.Connection, caller: Caller, project_id: uuid.UUID, needed: Level):
    """`authorize` for a request naming the project itself: NOT_FOUND names the project."""
    return await authorize(conn, caller, project_id, needed, project_not_found(project_id))
