"""Who may do what to a project and everything in it: pure decisions, shared by every service that
acts on projects (projects itself, the deployer), so both apply exactly the same rules. The data
they need (the project's owner, the caller's role in its team) each service loads from its own
store and read model of identity (identity_read_model.py).

Levels, lowest first: READ (see it), WRITE (change applications, env vars, volumes, domains,
databases; deploy), MANAGE (change the project itself, reveal secrets, make a secret plain
without replacing its value, purge), OWN (delete the project, move it to another team). The project's owner and platform super_admin/admin hold OWN; team owners and admins
MANAGE, members WRITE, viewers READ. A platform viewer or a read-only token never gets past READ; a
project-limited token sees nothing outside its projects. Below READ the project does not exist for
the caller: NOT_FOUND, the same answer as for an id nobody has.
"""

import enum
import uuid

from dockyard_kit.auth import Caller
from dockyard_kit.errors import DomainError, PermissionDenied


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
            raise PermissionDenied(_read_only_reason(caller))
        raise PermissionDenied(f"{action} needs {_NEEDS[needed]}")


def require_creator(caller: Caller) -> None:
    """Creating a project needs a read-write token of a developer or above."""
    if caller.read_only:
        raise PermissionDenied(_read_only_reason(caller))
    if caller.project_limited:
        raise PermissionDenied("a project-limited token cannot create projects")


def _read_only_reason(caller: Caller) -> str:
    return "this token is read-only" if caller.scope == "read_only" else "a platform viewer never writes"
