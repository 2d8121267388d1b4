"""Users: what makes a valid account, and the account changes the RPCs make, each in one transaction
with its event.

Fields are validated here with messages that name them; the table's constraints stay as the
backstop. Passwords are hashed (slowly, off the event loop) before any transaction opens, so no
row lock or advisory lock is held across bcrypt.
"""

import datetime
import re
import uuid

import asyncpg

from dockyard_kit import db
from dockyard_kit.auth import PLATFORM_ROLES, Caller
from dockyard_kit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from dockyard_kit.pagination import parse_page, split_page
from services.identity.domain import access, events, passwords
from services.identity.domain.tokens import utcnow
from services.identity.store import sessions as sessions_store
from services.identity.store import teams as teams_store
from services.identity.store import users as users_store

USERNAME_PATTERN = re.compile(r"[a-z0-9_-]{3,50}")
EMAIL_PATTERN = re.compile(r"[^@]+@[^@]+\.[^@]+")
EMAIL_MAX_LENGTH = 255
DEFAULT_ROLE = "developer"
UPDATABLE_FIELDS = ("username", "email", "password", "preferences", "role")
# Changes to these are identity.user.updated; a role change is identity.user.role_changed.
PROFILE_FIELDS = ("username", "email", "password", "preferences")

SETUP_DONE = "setup is already done: this Dockyard has users; sign in instead"
LAST_SUPER_ADMIN = (
    "this is the last active super_admin: it cannot be demoted, disabled or deleted; "
    "make another user super_admin first"
)


# -- validation ---------------------------------------------------------------------------------


def validate_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidArgument("username", "must be 3 to 50 characters, each a-z, 0-9, _ or -")


def validate_email(email: str) -> None:
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidArgument("email", f"must be at most {EMAIL_MAX_LENGTH} characters")
    if not EMAIL_PATTERN.fullmatch(email):
        raise InvalidArgument("email", "must be an email address, like name@example.com")


def validate_role(role: str) -> None:
    if role not in PLATFORM_ROLES:
        raise InvalidArgument("role", f"must be one of {', '.join(PLATFORM_ROLES)}")


_VALIDATORS = {
    "username": validate_username,
    "email": validate_email,
    "password": passwords.validate,
    "role": validate_role,
}


def validate_fields(values: dict) -> None:
    for field, value in values.items():
        if field in _VALIDATORS:
            _VALIDATORS[field](value)


# -- the caller ---------------------------------------------------------------------------------


async def current_account(pool: asyncpg.Pool, caller: Caller) -> asyncpg.Record:
    """The caller's account. One disabled or deleted since the token was issued is refused here,
    whatever the deny-list has heard so far."""
    async with pool.acquire() as conn:
        account = await users_store.get_user(conn, caller.user_id)
    if account is None or account["disabled_at"] is not None:
        raise Unauthenticated("the account this token was issued to is disabled or no longer exists")
    return account


# -- reading ------------------------------------------------------------------------------------


async def get_user(pool: asyncpg.Pool, caller: Caller, user_id: uuid.UUID) -> asyncpg.Record:
    access.check_identity_call(caller, writes=False)
    async with pool.acquire() as conn:
        row = await users_store.get_user(conn, user_id)
        shares_a_team = await users_store.share_a_team(conn, caller.user_id, user_id)
    if row is None or not access.can_view_user(caller, user_id, shares_a_team=shares_a_team):
        raise NotFound("user not found")
    return row


async def list_users(
    pool: asyncpg.Pool,
    caller: Caller,
    *,
    page_size: int,
    page_token: str,
    role: str,
    prefix: str,
    team_id: uuid.UUID | None,
) -> tuple[list[asyncpg.Record], str]:
    """A page of users in username order, and the next page's token."""
    async with pool.acquire() as conn:
        is_team_member = team_id is not None and (
            await teams_store.member_role(conn, team_id, caller.user_id) is not None
        )
        access.check_list_users(caller, team_id=team_id, is_team_member=is_team_member)
        if role:
            validate_role(role)
        page = parse_page(
            page_size,
            page_token,
            {"list": "users", "role": role, "prefix": prefix, "team_id": str(team_id or "")},
        )
        rows = await users_store.list_users(
            conn, after=page.after, limit=page.fetch_limit, role=role, prefix=prefix, team_id=team_id
        )
    return split_page(rows, page, "username")


# -- creating -----------------------------------------------------------------------------------


async def create_first_super_admin(
    pool: asyncpg.Pool, username: str, email: str, password: str
) -> asyncpg.Record:
    """First-run setup (AuthService.Setup): the first account, a super_admin; refused once any
    account exists, also when two setups race (they queue on an advisory lock, the second finds
    the first's user)."""
    validate_fields({"username": username, "email": email, "password": password})
    async with pool.acquire() as conn:
        if await users_store.count_users(conn):
            raise FailedPrecondition(SETUP_DONE)  # the common refusal, without a bcrypt round first
    password_hash = await passwords.hash_password(password)
    async with db.transaction(pool) as conn:
        await users_store.lock_setup(conn)
        if await users_store.count_users(conn):
            raise FailedPrecondition(SETUP_DONE)
        row = await users_store.insert_user(
            conn, username=username, email=email, password_hash=password_hash, role="super_admin"
        )
        # Nobody was signed in: the new super_admin is the actor of their own creation.
        await events.user_event(conn, "created", row, actor=str(row["id"]))
    return row


async def create_user(
    pool: asyncpg.Pool,
    caller: Caller,
    *,
    username: str,
    email: str,
    password: str,
    role: str,
    preferences: dict,
) -> asyncpg.Record:
    role = role or DEFAULT_ROLE
    access.check_create_user(caller, role)
    validate_fields({"username": username, "email": email, "password": password, "role": role})
    password_hash = await passwords.hash_password(password)
    async with db.transaction(pool) as conn:
        row = await users_store.insert_user(
            conn,
            username=username,
            email=email,
            password_hash=password_hash,
            role=role,
            preferences=preferences,
        )
        await events.user_event(conn, "created", row, actor=caller.user_id)
    return row


# -- changing -----------------------------------------------------------------------------------


async def update_user(
    pool: asyncpg.Pool, caller: Caller, user_id: uuid.UUID, changes: dict, *, old_password: str
) -> asyncpg.Record:
    """Applies `changes` (fields of UPDATABLE_FIELDS to new values). Changing one's own password
    takes the current one, `old_password`; an admin resetting another's does not."""
    access.check_update_user(caller, user_id, set(changes))
    validate_fields(changes)
    own_account = access.is_self(caller, user_id)
    columns = {field: value for field, value in changes.items() if field != "password"}
    verified_hash = None
    if "password" in changes:
        if own_account:
            verified_hash = await _verify_old_password(pool, user_id, old_password)
        columns["password_hash"] = await passwords.hash_password(changes["password"])
    async with db.transaction(pool) as conn:
        if "role" in changes:
            await users_store.lock_super_admins(conn)
        before = await users_store.get_user(conn, user_id, for_update=True)
        if before is None:
            raise NotFound("user not found")
        if not own_account:
            access.check_act_on_account(caller, before["role"])
        if "role" in changes:
            access.check_role_change(caller, before["role"], changes["role"])
            if changes["role"] != "super_admin":
                await _check_keeps_a_super_admin(conn, before)
        if verified_hash is not None and before["password_hash"] != verified_hash:
            raise Aborted("the password changed while this request checked the old one; retry")
        after = await users_store.update_user(conn, user_id, columns)
        if "password" in changes:
            await _end_sessions(conn, user_id, after["updated_at"], actor=caller.user_id)
        if any(field in changes for field in PROFILE_FIELDS):
            await events.user_event(conn, "updated", after, actor=caller.user_id)
        if after["role"] != before["role"]:
            await events.user_event(
                conn, "role_changed", after, actor=caller.user_id, previous_role=before["role"]
            )
    return after


async def _end_sessions(
    conn: asyncpg.Connection, user_id: uuid.UUID, changed_at: datetime.datetime, *, actor: str
) -> None:
    """A new password ends every session signed in with the old one, and their access tokens (a
    leaked password's sessions must not outlive the change). The not-before is the change's whole
    second (iat is in whole seconds): the old sessions' tokens of that very second are refused by
    their session ids, while a session signed in with the new password in that second keeps its."""
    session_ids = await sessions_store.revoke_user_sessions(conn, user_id, changed_at)
    # The issuer's clock, which stamps iat, not the database's.
    not_before = utcnow().replace(microsecond=0)
    await events.user_sessions_revoked(
        conn, user_id, session_ids, not_before, reason="password_changed", actor=actor
    )


async def _verify_old_password(pool: asyncpg.Pool, user_id: uuid.UUID, old_password: str) -> str:
    """The hash `old_password` was checked against, so the update can tell if it changed since."""
    if not old_password:
        raise InvalidArgument("old_password", "is required to change your own password")
    async with pool.acquire() as conn:
        row = await users_store.get_user(conn, user_id)
    if row is None:
        raise NotFound("user not found")
    if not await passwords.verify_password(old_password, row["password_hash"]):
        raise InvalidArgument("old_password", "is not your current password")
    return row["password_hash"]


async def _check_keeps_a_super_admin(conn: asyncpg.Connection, target) -> None:
    """Before demoting, disabling or deleting `target`, under users_store.lock_super_admins."""
    if target["role"] != "super_admin" or target["disabled_at"] is not None:
        return
    if not await users_store.count_other_active_super_admins(conn, target["id"]):
        raise FailedPrecondition(LAST_SUPER_ADMIN)


async def set_disabled(
    pool: asyncpg.Pool, caller: Caller, user_id: uuid.UUID, disabled: bool
) -> asyncpg.Record:
    """Disables or re-enables an account; doing what is already so changes nothing."""
    access.check_manage_accounts(caller)
    async with db.transaction(pool) as conn:
        await users_store.lock_super_admins(conn)
        target = await users_store.get_user(conn, user_id, for_update=True)
        if target is None:
            raise NotFound("user not found")
        access.check_act_on_account(caller, target["role"])
        if (target["disabled_at"] is not None) == disabled:
            return target
        if disabled:
            await _check_keeps_a_super_admin(conn, target)
        row = await users_store.set_disabled(conn, user_id, disabled)
        await events.user_event(conn, "disabled" if disabled else "enabled", row, actor=caller.user_id)
    return row


async def delete_user(pool: asyncpg.Pool, caller: Caller, user_id: uuid.UUID) -> None:
    """Deletes the account and its memberships; refused while they are a team's only owner."""
    access.check_manage_accounts(caller)
    async with db.transaction(pool) as conn:
        await users_store.lock_super_admins(conn)
        target = await users_store.get_user(conn, user_id, for_update=True)
        if target is None:
            raise NotFound("user not found")
        access.check_act_on_account(caller, target["role"])
        await _check_keeps_a_super_admin(conn, target)
        memberships = await teams_store.memberships_of_user(conn, user_id)
        await teams_store.delete_user_memberships(conn, user_id)
        await users_store.delete_user(conn, user_id)
        for membership in memberships:
            await events.member_event(conn, "removed", membership, actor=caller.user_id)
        await events.user_event(conn, "deleted", target, actor=caller.user_id)
