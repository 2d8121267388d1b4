"""Who sees which entries of the trail, decided from the same rules as every project decision
(dockyard_kit.project_access): platform super_admins and admins see every entry; a platform viewer
only their own actions; anyone else their own actions, and the entries of every team in which their
role manages its projects (team owners and admins, project_access.TEAM_ROLE_LEVELS) and of those
teams' projects and of their own projects, with everything in them. A project-limited token sees
only entries of its projects."""

import uuid

import asyncpg

from dockyard_kit.auth import Caller
from dockyard_kit.project_access import TEAM_ROLE_LEVELS, Level
from services.audit.store import read_model
from services.audit.store.entries import Scope

MANAGING_TEAM_ROLES = tuple(role for role, level in TEAM_ROLE_LEVELS.items() if level >= Level.MANAGE)


async def scope(conn: asyncpg.Connection, caller: Caller) -> Scope:
    user_id = uuid.UUID(caller.user_id)
    limited_to = tuple(uuid.UUID(p) for p in sorted(caller.project_ids)) if caller.project_limited else None
    if caller.is_admin:
        return Scope(user_id, everything=True, limited_to=limited_to)
    if caller.role == "viewer":
        return Scope(user_id, own_only=True, limited_to=limited_to)
    teams = await read_model.managed_teams(conn, user_id, MANAGING_TEAM_ROLES)
    return Scope(user_id, managed_teams=tuple(teams), limited_to=limited_to)
