"""Teams, their members and invitations: what makes a valid team and membership, and the changes
the RPCs make, each in one transaction with its events.

Nobody joins a team without saying yes: the team's owners and admins invite a person by username or
email, and the membership (and its team_member.added event) exists once the invited user accepts.
Only platform admins add members directly. An invitation is answered alike whether or not its login
names an account, so inviting does not tell which accounts exist; the team sees the login it typed,
never the person's email or id, until they join (and a member's email only to fellow members).

The caller's own role in the team is read in the same transaction as the change it allows. The
database keeps every team with an owner (a trigger that serialises on the team's row); the domain
does not pre-check that rule, it words the trigger's refusal (store/teams.py).
"""

import datetime
import uuid

import asyncpg

from dockyard_kit import db
from dockyard_kit.auth import Caller
from dockyard_kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from services.identity.domain import access, events
from services.identity.domain.tokens import utcnow
from services.identity.store import teams as teams_store
from services.identity.store import users as users_store

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 100
DEFAULT_MEMBER_ROLE = "member"
UPDATABLE_FIELDS = ("name", "description", "settings")
INVITATION_TTL = datetime.timedelta(days=7)
# The longest email address (RFC 5321); usernames are shorter.
INVITEE_MAX_LENGTH = 254


def validate_name(name: str) -> None:
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise InvalidArgument("name", f"must be {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} characters")


def validate_team_role(role: str, field: str = "role") -> None:
    if role not in access.TEAM_ROLES:
        raise InvalidArgument(field, f"must be one of {', '.join(access.TEAM_ROLES)}")


def normalize_invitee(invitee: str) -> str:
    """The login an invitation goes to, as stored and shown: trimmed, lower case (usernames are
    lower case, emails match in any case)."""
    invitee = invitee.strip().lower()
    if not invitee:
        raise InvalidArgument(
            "invitation.invitee", "is required: the username or email of the person to invite"
        )
    if len(invitee) > INVITEE_MAX_LENGTH:
        raise InvalidArgument("invitation.invitee", f"must be at most {INVITEE_MAX_LENGTH} characters")
    return invitee


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
    """A platform admin's act; team managers invite instead (create_invitation)."""
    role = role or DEFAULT_MEMBER_ROLE
    async with db.transaction(pool) as conn:
        access.check_add_member_directly(caller, await _caller_team_role(conn, caller, team_id))
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


# -- invitations --------------------------------------------------------------------------------

# Why a non-pending invitation cannot be answered (or revoked) any more.
_CLOSED = {
    "accepted": "was already accepted",
    "declined": "was declined",
    "revoked": "was revoked by the team",
    "expired": "has expired: ask the team for a new one",
}


def _check_pending(invitation: asyncpg.Record) -> None:
    if invitation["state"] != "pending":
        raise FailedPrecondition(f"this invitation {_CLOSED[invitation['state']]}")


async def create_invitation(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, *, invitee: str, role: str
) -> asyncpg.Record:
    """A pending invitation of `invitee` (a username or an email) to the team with `role`."""
    role = role or DEFAULT_MEMBER_ROLE
    async with db.transaction(pool) as conn:
        access.check_set_member_role(caller, await _caller_team_role(conn, caller, team_id), None, role)
        validate_team_role(role, "invitation.role")
        invitee = normalize_invitee(invitee)
        await _existing_team(conn, team_id)
        account = await users_store.find_by_login(conn, invitee)
        invitee_user_id = account["id"] if account is not None else None
        # Saying so tells only what the team already sees: its members.
        if invitee_user_id is not None and await teams_store.member_role(conn, team_id, invitee_user_id):
            raise AlreadyExists("that user is already a member of this team", field="invitation.invitee")
        await teams_store.expire_stale_invitation(conn, team_id, invitee)
        invitation = await teams_store.insert_invitation(
            conn,
            team_id=team_id,
            invitee=invitee,
            invitee_user_id=invitee_user_id,
            role=role,
            invited_by=caller.user_id,
            expires_at=utcnow() + INVITATION_TTL,
        )
        await events.invitation_event(conn, "created", invitation, actor=caller.user_id)
    return invitation


async def list_invitations(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list[asyncpg.Record], str]:
    """The team's invitations, newest first, and the next page's token."""
    async with pool.acquire() as conn:
        access.check_manage_invitations(caller, await _caller_team_role(conn, caller, team_id), writes=False)
        page = parse_page(page_size, page_token, {"list": "team_invitations", "team_id": str(team_id)})
        await _existing_team(conn, team_id)
        rows = await teams_store.list_team_invitations(
            conn, team_id, after=page.newest_first_after, limit=page.fetch_limit
        )
    return split_page(rows, page, newest_first_key)


async def revoke_invitation(
    pool: asyncpg.Pool, caller: Caller, team_id: uuid.UUID, invitation_id: uuid.UUID
) -> asyncpg.Record:
    async with db.transaction(pool) as conn:
        access.check_manage_invitations(caller, await _caller_team_role(conn, caller, team_id), writes=True)
        invitation = await teams_store.get_invitation(conn, invitation_id, for_update=True)
        if invitation is None or invitation["team_id"] != team_id:
            raise NotFound("invitation not found")
        _check_pending(invitation)
        revoked = await teams_store.answer_invitation(conn, invitation_id, "revoked")
        await events.invitation_event(conn, "revoked", revoked, actor=caller.user_id)
    return revoked


async def list_my_invitations(
    pool: asyncpg.Pool, caller: Caller, *, page_size: int, page_token: str
) -> tuple[list[asyncpg.Record], str]:
    """The caller's pending invitations, newest first, and the next page's token."""
    access.check_identity_call(caller, writes=False)
    page = parse_page(page_size, page_token, {"list": "my_team_invitations"})
    async with pool.acquire() as conn:
        rows = await teams_store.list_pending_invitations_of_user(
            conn, caller.user_id, after=page.newest_first_after, limit=page.fetch_limit
        )
    return split_page(rows, page, newest_first_key)


async def _own_pending_invitation(
    conn: asyncpg.Connection, caller: Caller, invitation_id: uuid.UUID
) -> asyncpg.Record:
    """The caller's invitation, locked, still open to an answer."""
    invitation = await teams_store.get_invitation(conn, invitation_id, for_update=True)
    if invitation is None:
        raise NotFound("invitation not found")
    access.check_answer_invitation(caller, invitation["invitee_user_id"])
    _check_pending(invitation)
    return invitation


async def accept_invitation(pool: asyncpg.Pool, caller: Caller, invitation_id: uuid.UUID) -> asyncpg.Record:
    """The caller joins the team with the invitation's role: the membership, and its event, begin here."""
    access.check_identity_call(caller, writes=True)
    async with db.transaction(pool) as conn:
        invitation = await _own_pending_invitation(conn, caller, invitation_id)
        member = await teams_store.insert_member(
            conn, team_id=invitation["team_id"], user_id=caller.user_id, role=invitation["role"]
        )
        accepted = await teams_store.answer_invitation(conn, invitation_id, "accepted")
        await events.invitation_event(conn, "accepted", accepted, actor=caller.user_id)
        await events.member_event(conn, "added", member, actor=caller.user_id)
    return member


async def decline_invitation(pool: asyncpg.Pool, caller: Caller, invitation_id: uuid.UUID) -> asyncpg.Record:
    access.check_identity_call(caller, writes=True)
    async with db.transaction(pool) as conn:
        await _own_pending_invitation(conn, caller, invitation_id)
        declined = await teams_store.answer_invitation(conn, invitation_id, "declined")
        await events.invitation_event(conn, "declined", declined, actor=caller.user_id)
    return declined
