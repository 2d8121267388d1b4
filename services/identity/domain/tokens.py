"""Access tokens, and the keys that sign them.

Access tokens are ES256 JWTs exactly as dockyard_kit.auth describes them (header alg, kid, typ;
claims iss, aud, sub, role, scope, projects, sid or api_token_id, jti, iat, exp = iat + the
access-token TTL). Each names what issued it, the session (sid) or the API token, so that ending
that ends the token everywhere (dockyard_kit/revocations.py). Services verify them against the
JWKS that `TokenIssuer.jwks` publishes.

Signing keys (identity.signing_keys) are P-256 key pairs named by their RFC 7638 thumbprint. The
private half is stored as PKCS#8, encrypted with dockyard_kit.crypto under identity's own key ring
(dockyard_kit/service_secrets.py: no other service's keys open it) and bound to its kid. A key's life:

    created_at   published in the JWKS from now on
    + PREPUBLISH becomes the signer: verifiers that cache the JWKS (Envoy refreshes it on a timer,
                 not on an unknown kid) have had time to learn it before its first token
    retired_at   = created_at + PREPUBLISH + SIGNING_PERIOD; its successor is created once it has
                 PREPUBLISH left, so the successor is ready when it retires
    expires_at   = retired_at + access-token TTL + CLOCK_LEEWAY: the last token it can have signed
                 has expired; it leaves the JWKS and is deleted

Keys are maintained lazily, on the signing and JWKS paths (both run often: every sign-in, every
verifier's JWKS refresh), under an advisory lock so replicas agree. When no key is ready (first
start, a rotation on demand, a master secret that changed, or nobody asked during a successor's
pre-publication), of the keys that can sign, the one published longest signs. A key whose private
half was sealed under a master secret the service no longer holds cannot sign, but its public half
still verifies the tokens it signed until it expires.

`TokenIssuer.rotate` rotates on demand: a new key is published now and the current one stops
signing VERIFIER_CACHE_ALLOWANCE later, once every verifier's cached JWKS has the new key.
"""

import dataclasses
import datetime
import json
import uuid

import asyncpg
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import ECKey

from dockyard_kit import db
from dockyard_kit.auth import READ_WRITE
from dockyard_kit.config import Settings
from dockyard_kit.crypto import KeyRing, decrypt, encrypt
from services.identity.store import signing_keys as store

ALGORITHM = "ES256"
CURVE = "P-256"
SIGNING_PERIOD = datetime.timedelta(days=30)
PREPUBLISH = datetime.timedelta(days=1)
# Verifiers accept tokens a little past exp when their clock is behind ours.
CLOCK_LEEWAY = datetime.timedelta(seconds=60)
# Longer than any verifier keeps a JWKS copy without refetching: Envoy keeps it 60 s and never
# refetches on an unknown kid (gateway/envoy.py); services refetch on one (dockyard_kit/jwks.py).
VERIFIER_CACHE_ALLOWANCE = datetime.timedelta(minutes=2)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- key lifecycle (pure) -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KeyLifetime:
    kid: str
    created_at: datetime.datetime
    retired_at: datetime.datetime
    expires_at: datetime.datetime
    # Its private half can be decrypted with the keys this service holds.
    can_sign: bool = True


def new_key_lifetime(kid: str, now: datetime.datetime, access_token_ttl: datetime.timedelta) -> KeyLifetime:
    retired_at = now + PREPUBLISH + SIGNING_PERIOD
    return KeyLifetime(kid, now, retired_at, published_until(retired_at, access_token_ttl))


def published_until(retired_at: datetime.datetime, access_token_ttl: datetime.timedelta) -> datetime.datetime:
    """When a key that stops signing at `retired_at` may leave the JWKS."""
    return retired_at + access_token_ttl + CLOCK_LEEWAY


def choose_signer(keys: list[KeyLifetime], now: datetime.datetime) -> KeyLifetime | None:
    """The newest key that is ready; failing that, of the keys that may sign at all, the one
    published longest (verifiers are likeliest to know it)."""
    candidates = [key for key in keys if key.can_sign and key.retired_at > now and key.expires_at > now]
    ready = [key for key in candidates if key.created_at + PREPUBLISH <= now]
    if ready:
        return max(ready, key=lambda key: (key.created_at, key.kid))
    return min(candidates, key=lambda key: (key.created_at, key.kid), default=None)


def needs_new_key(keys: list[KeyLifetime], now: datetime.datetime) -> bool:
    """No key may sign, or the signer retires within PREPUBLISH and has no successor yet."""
    signer = choose_signer(keys, now)
    if signer is None:
        return True
    if signer.retired_at - now > PREPUBLISH:
        return False
    return not any(key.can_sign and key.created_at > signer.created_at for key in keys)


# -- access tokens (pure) -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AccessGrant:
    """What an access token lets its bearer do."""

    user_id: str
    role: str
    scope: str = READ_WRITE
    # Empty: not limited to particular projects.
    project_ids: tuple[str, ...] = ()
    # What it is issued for: a session (the refresh-token family) or an API token.
    session_id: str = ""
    api_token_id: str = ""


def access_claims(
    grant: AccessGrant, *, issuer: str, audience: str, issued_at: int, ttl_seconds: int
) -> dict:
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": grant.user_id,
        "role": grant.role,
        "scope": grant.scope,
        "jti": str(uuid.uuid4()),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
    }
    if grant.project_ids:
        claims["projects"] = list(grant.project_ids)
    if grant.session_id:
        claims["sid"] = grant.session_id
    if grant.api_token_id:
        claims["api_token_id"] = grant.api_token_id
    return claims


def public_jwk(key: ECKey, kid: str) -> dict:
    return {**key.as_dict(private=False), "kid": kid, "alg": ALGORITHM, "use": "sig"}


def _associated_data(kid: str) -> bytes:
    """Binds an encrypted private key to its row."""
    return b"identity.signing_keys.private_key_encrypted:" + kid.encode()


# -- the issuer -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class TokenIssuer:
    """Signs access tokens and publishes the JWKS. One per process: it keeps decrypted private keys."""

    def __init__(self, settings: Settings, key_ring: KeyRing) -> None:
        self.settings = settings
        self.key_ring = key_ring
        self._private_keys: dict[str, ECKey] = {}

    @property
    def access_token_ttl(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.settings.DOCKYARD_ACCESS_TOKEN_TTL_SECONDS)

    async def issue(self, pool: asyncpg.Pool, grant: AccessGrant) -> IssuedToken:
        now = utcnow()
        rows = await self._maintained_keys(pool, now)
        signer = choose_signer([self._lifetime(row) for row in rows], now)
        row = next(row for row in rows if row["kid"] == signer.kid)
        ttl = self.settings.DOCKYARD_ACCESS_TOKEN_TTL_SECONDS
        claims = access_claims(
            grant,
            issuer=self.settings.DOCKYARD_JWT_ISSUER,
            audience=self.settings.DOCKYARD_JWT_AUDIENCE,
            issued_at=int(now.timestamp()),
            ttl_seconds=ttl,
        )
        header = {"alg": ALGORITHM, "kid": signer.kid, "typ": "JWT"}
        return IssuedToken(jwt.encode(header, claims, self._private_key(row)), ttl)

    async def jwks(self, pool: asyncpg.Pool) -> dict:
        """Every key not yet expired, as a JWKS document."""
        rows = await self._maintained_keys(pool, utcnow())
        return {"keys": [json.loads(row["public_jwk"]) for row in rows]}

    async def rotate(self, pool: asyncpg.Pool) -> str:
        """Publishes a new key now, which signs once every key before it retires, at the latest
        VERIFIER_CACHE_ALLOWANCE from now (each stays published until the tokens it signed have
        expired). Returns the new kid."""
        now = utcnow()
        retired_at = now + VERIFIER_CACHE_ALLOWANCE
        async with db.transaction(pool) as conn:
            await store.lock_for_maintenance(conn)
            await store.retire_signing_keys(
                conn, retired_at=retired_at, expires_at=published_until(retired_at, self.access_token_ttl)
            )
            return await self._create_key(conn, now)

    async def _maintained_keys(self, pool: asyncpg.Pool, now: datetime.datetime) -> list[asyncpg.Record]:
        """The published keys, after creating a key when one is due."""
        async with pool.acquire() as conn:
            rows = await store.list_unexpired(conn, now)
        if not needs_new_key([self._lifetime(row) for row in rows], now):
            return rows
        async with db.transaction(pool) as conn:
            await store.lock_for_maintenance(conn)
            rows = await store.list_unexpired(conn, now)  # another replica may have done it meanwhile
            if needs_new_key([self._lifetime(row) for row in rows], now):
                await store.delete_expired(conn, now)
                await self._create_key(conn, now)
                rows = await store.list_unexpired(conn, now)
        return rows

    async def _create_key(self, conn: asyncpg.Connection, now: datetime.datetime) -> str:
        key = ECKey.generate_key(CURVE, private=True)
        kid = key.thumbprint()
        pkcs8 = key.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        lifetime = new_key_lifetime(kid, now, self.access_token_ttl)
        await store.insert_key(
            conn,
            kid=kid,
            algorithm=ALGORITHM,
            private_key_encrypted=encrypt(
                pkcs8, key_ring=self.key_ring, associated_data=_associated_data(kid)
            ),
            master_key_id=self.key_ring.current_key_id,
            public_jwk=public_jwk(key, kid),
            created_at=lifetime.created_at,
            retired_at=lifetime.retired_at,
            expires_at=lifetime.expires_at,
        )
        self._private_keys[kid] = key
        return kid

    def _lifetime(self, row: asyncpg.Record) -> KeyLifetime:
        return KeyLifetime(
            kid=row["kid"],
            created_at=row["created_at"],
            retired_at=row["retired_at"],
            expires_at=row["expires_at"],
            can_sign=row["master_key_id"] in self.key_ring.key_ids,
        )

    def _private_key(self, row: asyncpg.Record) -> ECKey:
        kid = row["kid"]
        if kid not in self._private_keys:
            pkcs8 = decrypt(
                row["private_key_encrypted"], key_ring=self.key_ring, associated_data=_associated_data(kid)
            )
            self._private_keys[kid] = ECKey.import_key(pkcs8)
        return self._private_keys[kid]
