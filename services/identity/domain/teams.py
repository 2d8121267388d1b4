"""Teams and their members: what makes a valid team and membership, and the changes the RPCs make,
each in one transaction with its events.

The caller's own role in the team is read in the same transaction as the change it allows. The
database keeps every team with an owner (a trigger that serialises on the team's row); the domain
does not pre-check that rule, it words the trigger's refusal (store/teams.py).
"""

import uuid

import asyncpg

from dockyard_kit import db
from dockyard_kit.auth import Caller
from dockyard_kit.errors import InvalidArgument, NotFound
from dockyard_kit.pagination import parse_page, split_page
from services.identity.domain import access, events
from services.identity.store import teams as teams_store
from services.identity.store import users as users_store

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 100
DEFAULT_MEMBER_ROLE = "member"
UPDATABLE_FIELDS = ("name", "description", "settings")


def validate_name(name: str) -> None:
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise InvalidArgument("name", f"must be {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} characters")


def validate_team_role(role: str) -> None:
    if role not in access.TEAM_ROLES:
        raise InvalidArgument("role", f"must be one of {', '.join(access.TEAM_ROLES)}")


async def _caller_team_role(conn: asyncpg.Connection, caller: Caller, team_id: uuid.UUID) -> str | None:
    return await teams_store.member_role(conn, team_id, caller.user_id)


async def _existing_team(conn: asyncpg.Connection, team_id: uuid.UUID) -> asyncpg.Record:
    """For platform admins, who pass the membership check of any team id."""
    team = await teams_store.get_team(conn, team_id)
    if team is None:
        raise NotFound("team not found")
    return team


# -- teams --------------------------------------------------------------------------------------


async def list_teams(
    pool: asyncpg.Pool, caller: Caller, *, page_size: int, page_token: str
) -> tuple[list[asyncpg.Record], str]:
    """Platform admins page through every team, others through their own, in name order."""
    access.check_identity_call(caller, writes=False)
    page = parse_page(page_size, page_token, {"list": "teams", "all": caller.is_admin})
    async with pool.acquire() as conn:
        rows = await teams_store.list_teams(
            conn,
            after=page.after,
            limit=page.fetch_limit,
            member_user_id=None if caller.is_admin else caller.user_id,
        )
    return split_page(rows, page, "name")


async def get_team(pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        access.check_view_team(caller, await _caller_team_role(conn, caller, team_id))
        return await _existing_team(conn, team_id)


async def create_team(
    pool: asyncpg.Pool, caller: Caller, *, name: str, description: str, settings: dict
) -> asyncpg.Record:
    """The team, with the caller as its first owner."""
    access.check_create_team(caller)
    validate_name(name)
    async with db.transaction(pool) as conn:
        team = await teams_store.insert_team(conn, name=name, description=description, settings=settings)
        owner = await teams_store.insert_member(
            conn, team_id=team["id"], user_id=caller.user_id, role="owner"
        )
        await events.team_event(conn, "created", team, actor=caller.user_id)
        await events.member_event(conn, "added", owner, actor=caller.user_id)
    return team


async def update_team(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    """Applies `changes` (fields of UPDATABLE_FIELDS to new values)."""
    async with db.transaction(pool) as conn:
        access.check_update_team(caller, await _caller_team_role(conn, caller, team_id))
        if "name" in changes:
            validate_name(changes["name"])
        team = await teams_store.update_team(conn, team_id, changes)
        if team is None:
            raise NotFound("team not found")
        await events.team_event(conn, "updated", team, actor=caller.user_id)
    return team


async def delete_team(pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID) -> None:
    async with db.transaction(pool) as conn:
        access.check_delete_team(caller, await _caller_team_role(conn, caller, team_id))
        team = await _existing_team(conn, team_id)
        members = await teams_store.memberships_of_team(conn, team_id)
        await teams_store.delete_team(conn, team_id)
        for member in members:
            await events.member_event(conn, "removed", member, actor=caller.user_id)
        await events.team_event(conn, "deleted", team, actor=caller.user_id)


# -- members ------------------------------------------------------------------------------------


async def list_members(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list[asyncpg.Record], str]:
    """A page of the team's members in username order, and the next page's token."""
    async with pool.acquire() as conn:
        access.check_view_team(caller, await _caller_team_role(conn, caller, team_id))
        page = parse_page(page_size, page_token, {"list": "team_members", "team_id": str(team_id)})
        await _existing_team(conn, team_id)
        rows = await teams_store.list_members(conn, team_id, after=page.after, limit=page.fetch_limit)
    return split_page(rows, page, "username")


async def add_member(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> asyncpg.Record:
    role = role or DEFAULT_MEMBER_ROLE
    async with db.transaction(pool) as conn:
        access.check_set_member_role(caller, await _caller_team_role(conn, caller, team_id), None, role)
        validate_team_role(role)
        await _existing_team(conn, team_id)
        if await users_store.get_user(conn, user_id) is None:
            raise NotFound("user not found")
        member = await teams_store.insert_member(conn, team_id=team_id, user_id=user_id, role=role)
        await events.member_event(conn, "added", member, actor=caller.user_id)
    return member


async def _member_for_change(
    conn: asyncpg.Connection,
    team_id: uuid.UUID,
    user_id: uuid.UUID,
    caller_team_role: str | None,
    caller: Caller,
) -> asyncpg.Record:
    """The membership about to change, locked; NOT_FOUND also when the caller may not see the team."""
    access.check_view_team(caller, caller_team_role)
    member = await teams_store.get_member(conn, team_id, user_id, for_update=True)
    if member is None:
        raise NotFound("that user is not a member of this team")
    return member


async def update_member(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> asyncpg.Record:
    """Changes a member's team role; a change to the same role changes nothing."""
    async with db.transaction(pool) as conn:
        caller_team_role = await _caller_team_role(conn, caller, team_id)
        before = await _member_for_change(conn, team_id, user_id, caller_team_role, caller)
        access.check_set_member_role(caller, caller_team_role, before["role"], role)
        validate_team_role(role)
        if role == before["role"]:
            return before
        after = await teams_store.update_member_role(conn, team_id, user_id, role)
        await events.member_event(
            conn, "role_changed", after, actor=caller.user_id, previous_role=before["role"]
        )
    return after


async def remove_member(pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, user_id: uuid.UUID) -> None:
    async with db.transaction(pool) as conn:
        caller_team_role = await _caller_team_role(conn, caller, team_id)
        member = await _member_for_change(conn, team_id, user_id, caller_team_role, caller)
        access.check_remove_member(caller, caller_team_role, user_id, member["role"])
        await teams_store.delete_member(conn, team_id, user_id)
        await events.member_event(conn, "removed", member, actor=caller.user_id)
