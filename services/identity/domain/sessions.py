"""Signing in, and sessions: login, refresh-token rotation, logout.

A session is a family of refresh tokens. Each refresh token is opaque (REFRESH_TOKEN_PREFIX plus
256 random bits), stored only as its SHA-256 hash, and good for one use: refreshing marks it used
and issues the next token of the same family. Presenting a token that was already used (or
revoked) means two parties hold the session, so the whole family is revoked. Logout revokes the
family too. Access tokens name their session (the family id, claim `sid`); revoking a family
publishes identity.session.revoked, and every service's deny-list refuses the session's access
tokens from then on (dockyard_kit/revocations.py).

Sign-in never tells whether an account exists: an unknown login, a wrong password and a disabled
account get the same UNAUTHENTICATED message after the same bcrypt work (an unknown login is
checked against a dummy hash). Guessing is slowed down and then refused (domain/throttle.py), and a
flood beyond what the hashing slots take is refused at once (passwords.Busy).

Nothing records the login as typed (people type passwords there): the throttle and the sign-in
events name the account it matched, or else a keyed digest of it (login_digest).
"""

import asyncio
import dataclasses
import datetime
import hashlib
import hmac
import ipaddress
import math
import secrets
import uuid

import asyncpg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dockyard.identity.v1 import events_pb2
from dockyard_kit import db
from dockyard_kit.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from dockyard_kit.interceptors import current_request
from services.identity.domain import events, passwords, throttle
from services.identity.domain.tokens import AccessGrant, IssuedToken, TokenIssuer, utcnow
from services.identity.store import sessions as store
from services.identity.store import users

REFRESH_TOKEN_PREFIX = "dkr_"
BAD_CREDENTIALS = "invalid username or password"
INVALID_REFRESH_TOKEN = "the refresh token is invalid, expired or revoked"
# The users table's limit for usernames and emails.
MAX_LOGIN_LENGTH = 255
# An event needs a resource id; a failed sign-in that names no account is filed under this one.
NO_ACCOUNT = str(uuid.UUID(int=0))
_LOGIN_DIGEST_INFO = b"dockyard identity login digest v1"


@dataclasses.dataclass(frozen=True)
class Session:
    access: IssuedToken
    refresh_token: str


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def login_digest_key(root_key: bytes) -> bytes:
    """The key of login digests, derived for this use only from identity's root key (its secrets
    file's current sealing key)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LOGIN_DIGEST_INFO).derive(root_key)


def login_digest(key: bytes, login: str) -> str:
    """Names a login that matched no account, the same in any case. Keyed: a plain hash of a login
    (or of a password typed in its place) is confirmed by hashing guesses; this one needs the key."""
    return hmac.new(key, login.strip().lower().encode(), hashlib.sha256).hexdigest()


def client_address() -> str:
    """The calling client's IP address, or "" when unknown or not an address."""
    request = current_request.get()
    try:
        return str(ipaddress.ip_address(request.client_ip)) if request and request.client_ip else ""
    except ValueError:
        return ""


def _user_agent() -> str:
    request = current_request.get()
    return request.user_agent if request else ""


async def _login_event(
    conn: asyncpg.Connection, verb: str, user: asyncpg.Record | None, digest: str, reason: str = ""
) -> None:
    """`digest`: the login's, when it matched no account."""
    user_id = str(user["id"]) if user else ""
    payload = events_pb2.LoginAttempted(user_id=user_id, login_digest=digest, reason=reason)
    actor = user_id if verb == "login_succeeded" else ""
    # The type says identity.auth.<verb>; the audit trail files the attempt under the user it concerns.
    await events.emit(conn, "auth", verb, user_id or NO_ACCOUNT, payload, actor=actor, filed_under="user")


def _validate_credentials(login: str, password: str) -> None:
    if not login.strip():
        raise InvalidArgument("username", "is required")
    if len(login) > MAX_LOGIN_LENGTH:
        raise InvalidArgument("username", f"must be at most {MAX_LOGIN_LENGTH} characters")
    if not password:
        raise InvalidArgument("password", "is required")
    # No account can have a longer password (bcrypt would only read its first 72 bytes).
    if len(password.encode()) > passwords.MAX_BYTES:
        raise InvalidArgument("password", f"must be at most {passwords.MAX_BYTES} bytes")


async def _new_refresh_token(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, family_id: uuid.UUID, expires_at: datetime.datetime
) -> str:
    token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    await store.insert_refresh_token(
        conn,
        family_id=family_id,
        user_id=user_id,
        token_hash=hash_token(token),
        expires_at=expires_at,
        client_ip=client_address(),
        user_agent=_user_agent(),
    )
    return token


async def login(
    pool: asyncpg.Pool,
    issuer: TokenIssuer,
    login: str,
    password: str,
    *,
    refresh_ttl: datetime.timedelta,
    digest_key: bytes,
) -> Session:
    """Username or email plus password for a new session. The password is never logged or emitted."""
    _validate_credentials(login, password)
    async with pool.acquire() as conn:
        user = await users.find_by_login(conn, login.strip())
    digest = "" if user else login_digest(digest_key, login)
    account = throttle.account_key(user["id"]) if user else throttle.login_key(digest)
    keys = throttle.keys_for(account, client_address())
    async with db.transaction(pool) as conn:
        verdict = await throttle.reserve(conn, keys, utcnow())
        if verdict.locked_until is not None or verdict.saturated:
            await _login_event(conn, "login_failed", user, digest, "throttled")
    if verdict.locked_until is not None:
        wait = math.ceil((verdict.locked_until - utcnow()).total_seconds())
        raise ResourceExhausted(f"too many failed sign-ins; try again in {max(wait, 1)} seconds")
    if verdict.saturated:
        raise ResourceExhausted(
            "too many sign-ins at once for this account or address; retry in a few seconds"
        )
    await asyncio.sleep(verdict.delay_seconds)

    try:
        password_matches = await passwords.verify_password(password, user["password_hash"] if user else None)
    except passwords.Busy:
        async with db.transaction(pool) as conn:
            await throttle.release(conn, keys, utcnow())  # no password was checked
        raise
    if not password_matches or user["disabled_at"] is not None:
        reason = "disabled" if password_matches else "bad_credentials"
        async with db.transaction(pool) as conn:
            await throttle.confirm_failure(conn, keys, utcnow())
            await _login_event(conn, "login_failed", user, digest, reason)
        raise Unauthenticated(BAD_CREDENTIALS)

    session_id = uuid.uuid4()
    grant = AccessGrant(user_id=str(user["id"]), role=user["role"], session_id=str(session_id))
    access = await issuer.issue(pool, grant)
    async with db.transaction(pool) as conn:
        await throttle.release(conn, keys, utcnow(), clear=account)
        refresh_token = await _new_refresh_token(
            conn, user_id=user["id"], family_id=session_id, expires_at=utcnow() + refresh_ttl
        )
        await _login_event(conn, "login_succeeded", user, digest)
    return Session(access, refresh_token)


async def refresh(
    pool: asyncpg.Pool, issuer: TokenIssuer, refresh_token: str, *, refresh_ttl: datetime.timedelta
) -> Session:
    """Rotates a refresh token; reuse of a used or revoked one revokes its family."""
    if not refresh_token:
        raise InvalidArgument("refresh_token", "is required")
    now = utcnow()
    session = None
    async with db.transaction(pool) as conn:
        token = await store.lock_by_hash(conn, hash_token(refresh_token))
        if token is not None and token["expires_at"] > now:
            session = await _rotate(conn, pool, issuer, token, now=now, refresh_ttl=refresh_ttl)
    if session is None:
        raise Unauthenticated(INVALID_REFRESH_TOKEN)
    return session


async def _rotate(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    issuer: TokenIssuer,
    token: asyncpg.Record,
    *,
    now: datetime.datetime,
    refresh_ttl: datetime.timedelta,
) -> Session | None:
    """The next session of an unexpired token's family; None (and the family revoked) when the token
    was used or revoked before (two parties hold the session) or its user is disabled or gone."""
    user = await users.get_user(conn, token["user_id"])
    if token["used_at"] or token["revoked_at"] or user is None or user["disabled_at"] is not None:
        reused = bool(token["used_at"] or token["revoked_at"])
        # A disabled or deleted user's tokens are on the deny-list already.
        if await store.revoke_family(conn, token["family_id"], now) and reused:
            await events.session_revoked(
                conn, token["family_id"], token["user_id"], reason="reused", actor=""
            )
        return None
    await store.mark_used(conn, token["id"], now)
    successor = await _new_refresh_token(
        conn, user_id=user["id"], family_id=token["family_id"], expires_at=now + refresh_ttl
    )
    # Issued before the rotation commits: if signing fails, the presented token still works.
    grant = AccessGrant(user_id=str(user["id"]), role=user["role"], session_id=str(token["family_id"]))
    access = await issuer.issue(pool, grant)
    return Session(access, successor)


async def logout(pool: asyncpg.Pool, refresh_token: str) -> None:
    """Revokes the session (the family) the refresh token belongs to, and with it its access tokens."""
    if not refresh_token:
        raise InvalidArgument("refresh_token", "is required")
    async with db.transaction(pool) as conn:
        token = await store.lock_by_hash(conn, hash_token(refresh_token))
        if token is not None and await store.revoke_family(conn, token["family_id"], utcnow()):
            user_id = str(token["user_id"])
            await events.session_revoked(conn, token["family_id"], user_id, reason="logout", actor=user_id)
    if token is None:
        raise Unauthenticated(INVALID_REFRESH_TOKEN)


async def purge_expired(pool: asyncpg.Pool, now: datetime.datetime) -> int:
    """Refresh tokens past their expiry can do nothing; their rows go."""
    async with pool.acquire() as conn:
        return await store.delete_expired(conn, now)
