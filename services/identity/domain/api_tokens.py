"""API tokens for automation: a user's own, long-lived, scoped credentials.

The secret (SECRET_PREFIX plus 256 random bits) is shown once, at creation, and stored only as its
SHA-256 hash (it is random, so a slow hash adds nothing). A token has a scope (read_only or
read_write), optionally a list of projects it is limited to, and an expiry (default 90 days, at most
a year). It is not itself a bearer credential for the API: `exchange` turns it into a short-lived
access token carrying the token's scope, projects and id, and the owner's CURRENT role, so a token
never does more than its owner does today. Deleting a token revokes it, and (through
identity.api_token.revoked and every service's deny-list) the access tokens exchanged for it.

Only a person signed in with a password manages tokens: a caller using an API token may list them
(unless it is limited to projects, like any identity call) but not create or delete them, so a
leaked token cannot mint or hide others.
"""

import dataclasses
import datetime
import secrets
import uuid

import asyncpg

from dockyard_kit import db
from dockyard_kit.auth import READ_ONLY, SCOPES, Caller
from dockyard_kit.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.identity.domain import events
from services.identity.domain.access import check_identity_call
from services.identity.domain.sessions import hash_token
from services.identity.domain.tokens import AccessGrant, IssuedToken, TokenIssuer, utcnow
from services.identity.store import api_tokens as store
from services.identity.store import users

SECRET_PREFIX = "dky_"
# What a list shows to recognise a token by: the prefix and 8 characters of the secret.
SHOWN_PREFIX_LENGTH = len(SECRET_PREFIX) + 8
DEFAULT_LIFETIME = datetime.timedelta(days=90)
MAX_LIFETIME = datetime.timedelta(days=365)
MAX_NAME_LENGTH = 100
MAX_PROJECTS = 100
INVALID_API_TOKEN = "the API token is invalid, expired or revoked"


@dataclasses.dataclass(frozen=True)
class NewApiToken:
    name: str
    scope: str
    project_ids: tuple[uuid.UUID, ...]
    expires_at: datetime.datetime


def validate_new_token(
    *,
    name: str,
    scope: str,
    project_ids: list[str],
    expires_at: datetime.datetime | None,
    now: datetime.datetime,
) -> NewApiToken:
    """A token request's values, or INVALID_ARGUMENT naming the first bad field. No scope means
    read_only: the least a token may do is the default."""
    name = name.strip()
    if not name:
        raise InvalidArgument("token.name", "is required")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument("token.name", f"must be at most {MAX_NAME_LENGTH} characters")
    scope = scope or READ_ONLY
    if scope not in SCOPES:
        raise InvalidArgument("token.scope", f"must be one of {', '.join(SCOPES)}")
    if len(project_ids) > MAX_PROJECTS:
        raise InvalidArgument("token.project_ids", f"at most {MAX_PROJECTS} projects")
    parsed_ids: list[uuid.UUID] = []
    for value in project_ids:
        try:
            project_id = uuid.UUID(value)
        except ValueError:
            raise InvalidArgument("token.project_ids", f"{value!r} is not a UUID") from None
        if project_id not in parsed_ids:
            parsed_ids.append(project_id)
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        raise InvalidArgument("token.expires_at", "must be in the future")
    if expires_at > now + MAX_LIFETIME:
        raise InvalidArgument("token.expires_at", f"must be at most {MAX_LIFETIME.days} days away")
    return NewApiToken(name, scope, tuple(parsed_ids), expires_at)


def _refuse_api_token_callers(caller: Caller) -> None:
    if caller.via_api_token:
        raise PermissionDenied("API tokens cannot create or delete API tokens; sign in with a password")


def _token_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument("token_id", "must be a UUID") from None


async def create(
    pool: asyncpg.Pool,
    caller: Caller,
    *,
    name: str,
    scope: str,
    project_ids: list[str],
    expires_at: datetime.datetime | None,
) -> tuple[asyncpg.Record, str]:
    """The caller's new token and its secret (the only time the secret exists outside the caller).
    Who is asking is checked before what they ask for."""
    _refuse_api_token_callers(caller)
    new = validate_new_token(
        name=name, scope=scope, project_ids=project_ids, expires_at=expires_at, now=utcnow()
    )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    async with db.transaction(pool) as conn:
        row = await store.insert_api_token(
            conn,
            user_id=uuid.UUID(caller.user_id),
            name=new.name,
            token_hash=hash_token(secret),
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            scope=new.scope,
            project_ids=list(new.project_ids),
            expires_at=new.expires_at,
        )
        await events.api_token_event(conn, "created", row, actor=caller.user_id)
    return row, secret


async def list_tokens(pool: asyncpg.Pool, caller: Caller) -> list[asyncpg.Record]:
    check_identity_call(caller, writes=False)
    async with pool.acquire() as conn:
        return await store.list_active(conn, uuid.UUID(caller.user_id))


async def revoke(pool: asyncpg.Pool, caller: Caller, token_id: str) -> None:
    """Revokes one of the caller's tokens; NOT_FOUND for anyone else's (which is not told apart)."""
    _refuse_api_token_callers(caller)
    token_id = _token_id(token_id)
    async with db.transaction(pool) as conn:
        row = await store.revoke(conn, token_id, uuid.UUID(caller.user_id), utcnow())
        if row is None:
            raise NotFound(f"you have no API token {token_id}")
        await events.api_token_event(conn, "revoked", row, actor=caller.user_id)


async def exchange(pool: asyncpg.Pool, issuer: TokenIssuer, secret: str) -> IssuedToken:
    """An access token for a valid API token of an enabled user, with the owner's current role."""
    if not secret:
        raise InvalidArgument("api_token", "is required")
    async with db.transaction(pool) as conn:
        token = await store.use_by_hash(conn, hash_token(secret), utcnow())
        owner = await users.get_user(conn, token["user_id"]) if token else None
        if owner is None or owner["disabled_at"] is not None:
            raise Unauthenticated(INVALID_API_TOKEN)  # rolls back the last use, too
    grant = AccessGrant(
        user_id=str(owner["id"]),
        role=owner["role"],
        scope=token["scope"],
        project_ids=tuple(str(project_id) for project_id in token["project_ids"]),
        api_token_id=str(token["id"]),
    )
    return await issuer.issue(pool, grant)
