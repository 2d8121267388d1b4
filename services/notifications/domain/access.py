"""Who may do what to a channel, from the service's read models. A project's channel follows the
project's rules (dockyard_kit.project_access, the same code projects and the deployer decide with):
MANAGE (the project's owner, its team's owners and admins, platform admins) creates, changes,
deletes and tests it and reads its deliveries; READ (everyone who sees the project) lists it. A
team's channel follows the team: its owners and admins (and platform admins) manage it, its members
and viewers read it; a project-limited token sees no team's. Below READ a channel, project or team
does not exist for the caller (NOT_FOUND)."""

import asyncio
import time
import uuid

import asyncpg

from dockyard_kit import identity_read_model
from dockyard_kit.auth import Caller
from dockyard_kit.errors import NotFound, PermissionDenied
from dockyard_kit.project_access import TEAM_ROLE_LEVELS, Level, check
from services.notifications.store import read_model

# A project or team created a moment ago reaches this service's read models by events, within
# milliseconds as a rule: a channel created right after it waits this long for it.
NEW_OWNER_WAIT_SECONDS = 3.0


def channel_not_found(channel_id: uuid.UUID) -> NotFound:
    return NotFound(f"notification channel {channel_id} not found")


def team_level(caller: Caller, team_role: str | None, team_known: bool) -> Level:
    """The caller's level on a team's channels (pure)."""
    if caller.project_limited:
        return Level.NONE
    if caller.is_admin:
        level = Level.MANAGE if team_known else Level.NONE
    else:
        level = TEAM_ROLE_LEVELS.get(team_role or "", Level.NONE)
    if level > Level.READ and caller.read_only:
        level = Level.READ
    return level


def _refuse(caller: Caller, action: str) -> PermissionDenied:
    if caller.read_only:
        reason = (
            "this token is read-only" if caller.scope == "read_only" else "a platform viewer never writes"
        )
        return PermissionDenied(reason)
    return PermissionDenied(f"{action} needs manager rights on the channel's owner (a team owner or admin)")


async def _with_wait(fetch, wait: bool):
    found = await fetch()
    deadline = time.monotonic() + NEW_OWNER_WAIT_SECONDS
    while not found and wait and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        found = await fetch()
    return found


async def authorize_owner(
    conn: asyncpg.Connection,
    caller: Caller,
    project_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    needed: Level,
    *,
    action: str,
    not_found: NotFound | None = None,
    wait_for_new: bool = False,
) -> None:
    """Raises unless the caller holds `needed` on the project or team (exactly one given)."""
    if project_id is not None:
        project = await _with_wait(
            lambda: read_model.project_with_role(conn, project_id, caller.user_id), wait_for_new
        )
        missing = not_found or NotFound(f"project {project_id} not found")
        if project is None:
            raise missing
        check(caller, project, needed, missing, action=action)
        return
    missing = not_found or NotFound(f"team {team_id} not found")
    role = await identity_read_model.team_role(conn, team_id, caller.user_id)
    known = role is not None or await _with_wait(lambda: read_model.team_known(conn, team_id), wait_for_new)
    level = team_level(caller, role, known)
    if level == Level.NONE:
        raise missing
    if level < needed:
        raise _refuse(caller, action)


async def authorize_channel(
    conn: asyncpg.Connection, caller: Caller, channel, needed: Level, *, action: str
) -> None:
    await authorize_owner(
        conn,
        caller,
        channel["project_id"],
        channel["team_id"],
        needed,
        action=action,
        not_found=channel_not_found(channel["id"]),
    )
