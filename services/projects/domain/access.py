"""Who may do what to a project and everything in it. Pure decisions; the data they need (the
project row, the caller's role in its team) is loaded by `authorize`.

Levels, lowest first: READ (see it), WRITE (change applications, env vars, volumes, domains,
databases; deploy), MANAGE (change the project itself, reveal secrets, make a secret plain
without replacing its value, purge), OWN (delete the project, move it to another team). The project's owner and platform super_admin/admin hold OWN; team owners and admins
MANAGE, members WRITE, viewers READ. A platform viewer or a read-only token never gets past READ; a
project-limited token sees nothing outside its projects. Below READ the project does not exist for
the caller: NOT_FOUND, the same answer as for an id nobody has.
"""

import enum
import uuid

import asyncpg

from dockyard_kit.auth import Caller
from dockyard_kit.errors import DomainError, NotFound, PermissionDenied
from services.projects.store import projects as project_store


class Level(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3
    OWN = 4


TEAM_ROLE_LEVELS = {"viewer": Level.READ, "member": Level.WRITE, "admin": Level.MANAGE, "owner": Level.MANAGE}

_NEEDS = {
    Level.WRITE: "write access to the project (team member or above)",
    Level.MANAGE: "manager rights on the project (its owner, or a team owner or admin)",
    Level.OWN: "ownership of the project (only its owner or a platform admin may do this)",
}


def project_level(caller: Caller, owner_id: uuid.UUID, project_id: uuid.UUID, team_role: str | None) -> Level:
    if caller.project_limited and str(project_id) not in caller.project_ids:
        return Level.NONE
    if caller.is_admin or str(owner_id) == caller.user_id:
        level = Level.OWN
    else:
        level = TEAM_ROLE_LEVELS.get(team_role or "", Level.NONE)
    if level > Level.READ and caller.read_only:
        level = Level.READ
    return level


def check(caller: Caller, project, needed: Level, not_found: DomainError, *, action: str = "this") -> None:
    """Raises `not_found` below READ, PERMISSION_DENIED below `needed` (saying that `action` needs
    it). `project` has id, owner_id and team_role (the caller's role in the project's team, or None)."""
    level = project_level(caller, project["owner_id"], project["id"], project["team_role"])
    if level == Level.NONE:
        raise not_found
    if level < needed:
        if caller.read_only:
            reason = (
                "this token is read-only" if caller.scope == "read_only" else "a platform viewer never writes"
            )
            raise PermissionDenied(reason)
        raise PermissionDenied(f"{action} needs {_NEEDS[needed]}")


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


def require_creator(caller: Caller) -> None:
    """Creating a project needs a read-write token of a developer or above."""
    if caller.read_only:
        raise PermissionDenied(
            "this token is read-only" if caller.scope == "read_only" else "a platform viewer never writes"
        )
    if caller.project_limited:
        raise PermissionDenied("a project-limited token cannot create projects")
