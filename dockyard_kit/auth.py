"""Who is calling: the verified caller of the current RPC, and the token rules every service shares.

The server interceptor verifies the access token (a JWT signed by identity) on every RPC that is
not public and puts the `Caller` in a context variable; handlers read it with `require_caller()`.

Access tokens (issued by identity, verified here and by Envoy's jwt_authn):
  header: alg ES256, kid, typ JWT
  claims: iss, aud (DOCKYARD_JWT_ISSUER / DOCKYARD_JWT_AUDIENCE), sub (user id), role (platform
          role), scope ("read_write" | "read_only"), projects (project ids the token is limited to;
          absent or empty: not limited), what issued it: sid (the session, identity's
          refresh-token family, of a signed-in user) or api_token_id (the API token it was
          exchanged for), jti, iat, exp.

`AccessTokenVerifier` checks all of that against identity's published keys (jwks.py); the
`Authenticator` decides what each RPC asks of its caller: nothing for the contract's
`(dockyard.api.v1.public)` methods, a service credential (service_auth.py) for the methods of
`(dockyard.api.v1.internal)` services, a user's access token for all others (a public method sees
its caller only when a valid token comes along: `optional_caller`). It reads the bearer
token from the call's metadata and refuses tokens on the deny-list (revocations.py): of a disabled
or deleted user, of a session that ended, exchanged for an API token since deleted.
"""

import base64
import binascii
import contextvars
import dataclasses
import json
import math
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from google.protobuf import descriptor_pool
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from dockyard.api.v1 import options_pb2
from dockyard_kit.config import CLOCK_LEEWAY_SECONDS
from dockyard_kit.errors import PermissionDenied, Unauthenticated, Unavailable
from dockyard_kit.jwks import JwksUnavailable

PLATFORM_ROLES = ("super_admin", "admin", "developer", "viewer")
ADMIN_ROLES = ("super_admin", "admin")
READ_WRITE = "read_write"
READ_ONLY = "read_only"
SCOPES = (READ_WRITE, READ_ONLY)


@dataclasses.dataclass(frozen=True)
class Caller:
    user_id: str
    role: str
    scope: str = READ_WRITE
    # Empty: the token is not limited to particular projects.
    project_ids: frozenset[str] = frozenset()
    token_id: str = ""
    # What issued the token: a session ("sid") or an API token; empty when not named.
    session_id: str = ""
    api_token_id: str = ""
    issued_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def is_super_admin(self) -> bool:
        return self.role == "super_admin"

    @property
    def read_only(self) -> bool:
        """A read-only token, or a platform viewer: may read, never write."""
        return self.scope == READ_ONLY or self.role == "viewer"

    @property
    def project_limited(self) -> bool:
        return bool(self.project_ids)

    @property
    def via_api_token(self) -> bool:
        return bool(self.api_token_id)


current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("current_caller", default=None)


def require_caller() -> Caller:
    caller = current_caller.get()
    if caller is None:
        raise Unauthenticated("sign in first: this call needs a valid access token")
    return caller


# -- verifying access tokens ---------------------------------------------------------------------

ALGORITHM = "ES256"
# The longest lifetime DOCKYARD_ACCESS_TOKEN_TTL_SECONDS allows.
MAX_TOKEN_LIFETIME_SECONDS = 86400
# Far above any token identity issues; parsing stops here.
MAX_TOKEN_BYTES = 8192
# Verified tokens kept so a client's next calls skip the signature check: bounded in number, and in
# time so that a signing key identity withdraws stops being trusted within a minute.
VERIFIED_CACHE_SIZE = 10_000
VERIFIED_CACHE_SECONDS = 60.0

# Where a service credential (service_auth.py) travels: apart from a user's bearer token.
SERVICE_CREDENTIAL_HEADER = "x-dockyard-service-credential"
MISSING_CREDENTIAL = (
    f"this is an internal service: call it with a service credential ({SERVICE_CREDENTIAL_HEADER})"
)
INVALID_CREDENTIAL = "the service credential is not valid"
USER_NOT_ALLOWED = "this is an internal service: only Dockyard's own services may call it"

MISSING_TOKEN = "sign in first: this call needs an access token (authorization: Bearer <token>)"
INVALID_TOKEN = "the access token is not valid"
EXPIRED_TOKEN = "the access token has expired; refresh it or sign in again"
REVOKED_USER = "this account is disabled"
SESSION_ENDED = "this session has ended (signed out, or the password changed); sign in again"
API_TOKEN_REVOKED = "the API token this access token was exchanged for has been deleted"


class InvalidToken(Unauthenticated):
    """UNAUTHENTICATED with a message that tells the client what to do, never what was wrong in
    detail; `reason` says that, for the service's own log."""

    def __init__(self, reason: str, message: str = INVALID_TOKEN) -> None:
        super().__init__(message)
        self.reason = reason


class KeySource(Protocol):
    async def key(self, kid: str) -> ECKey | None:
        """The public key identity signs `kid` with, or None; raises JwksUnavailable."""


class AccessTokenVerifier:
    """Checks an access token against the claims contract above and returns its Caller.

    The header is judged before any key is looked up (only ES256 with a kid gets that far), the
    signature before any claim (so "expired" is said only of tokens identity really issued)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = CLOCK_LEEWAY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.clock = clock
        # token -> (caller, expires, cached until); insertion order is age.
        self._verified: dict[str, tuple[Caller, float, float]] = {}

    async def verify(self, token: str) -> Caller:
        """The token's caller. A token verified before is not verified again (the signature check is
        most of the cost) while it is in the cache: up to VERIFIED_CACHE_SECONDS, and never past its
        expiry, which is checked on every call."""
        now = self.clock()
        cached = self._verified.get(token)
        if cached is not None:
            caller, expires, fresh_until = cached
            if now < fresh_until:
                if expires <= now - self.leeway:
                    raise InvalidToken("expired", EXPIRED_TOKEN)
                return caller
            del self._verified[token]
        caller, expires = await self._verify_signed(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (caller, expires, now + VERIFIED_CACHE_SECONDS)
        return caller

    async def _verify_signed(self, token: str) -> tuple[Caller, float]:
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too long")
        header = _header(token)
        try:
            key = await self.keys.key(header["kid"])
        except JwksUnavailable:
            raise Unavailable("cannot check access tokens right now; retry shortly") from None
        if key is None:
            raise InvalidToken("unknown kid")
        try:
            payload = jws.deserialize_compact(token, key, algorithms=[ALGORITHM]).payload
        except (JoseError, ValueError):
            raise InvalidToken("bad signature") from None
        return self._caller(_json_object(payload, "claims"))

    def _caller(self, claims: dict) -> tuple[Caller, float]:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise InvalidToken("wrong audience")
        now = self.clock()
        expires, issued = _number(claims, "exp"), _number(claims, "iat")
        if not issued < expires <= issued + MAX_TOKEN_LIFETIME_SECONDS:
            raise InvalidToken("lifetime out of bounds")
        if issued > now + self.leeway or _number(claims, "nbf", default=issued) > now + self.leeway:
            raise InvalidToken("not valid yet")
        if expires <= now - self.leeway:
            raise InvalidToken("expired", EXPIRED_TOKEN)
        if claims.get("role") not in PLATFORM_ROLES:
            raise InvalidToken("unknown role")
        if claims.get("scope") not in SCOPES:
            raise InvalidToken("unknown scope")
        projects = claims.get("projects")
        projects = [] if projects is None else projects
        if not isinstance(projects, list):
            raise InvalidToken("projects is not a list")
        jti, session_id, api_token_id = (
            claims.get("jti"),
            claims.get("sid", ""),
            claims.get("api_token_id", ""),
        )
        if (
            not isinstance(jti, str)
            or not jti
            or not isinstance(api_token_id, str)
            or not isinstance(session_id, str)
        ):
            raise InvalidToken("jti, sid or api_token_id malformed")
        caller = Caller(
            user_id=_uuid(claims.get("sub"), "sub"),
            role=claims["role"],
            scope=claims["scope"],
            project_ids=frozenset(_uuid(project, "projects") for project in projects),
            token_id=jti,
            session_id=session_id,
            api_token_id=api_token_id,
            issued_at=issued,
        )
        return caller, expires


def _header(token: str) -> dict:
    if token.count(".") != 2:
        raise InvalidToken("not a compact JWS")
    header = _json_object(_b64decode(token.split(".", 1)[0]), "header")
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {str(header.get('alg'))[:20]!r} refused")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise InvalidToken("no kid")
    if str(header.get("typ", "JWT")).upper() != "JWT":
        raise InvalidToken("not a JWT")
    # Extensions a verifier must understand (RFC 7515 4.1.11), and RFC 7797's unencoded payloads.
    if "crit" in header or "b64" in header:
        raise InvalidToken("header extensions refused")
    return header


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("not base64url") from None


def _json_object(data: bytes, part: str) -> dict:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken(f"{part} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"{part} is not a JSON object")
    return value


def _number(claims: dict, name: str, default: float | None = None) -> float:
    value = claims.get(name, default)
    # bool is an int to Python, not a NumericDate.
    if type(value) not in (int, float) or not math.isfinite(value):
        raise InvalidToken(f"{name} is not a NumericDate")
    return value


def _uuid(value: object, claim: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise InvalidToken(f"{claim} is not a UUID") from None


# -- authenticating calls ------------------------------------------------------------------------

# gRPC's own services: health probes and reflection answer anyone.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _described_service(method: str):
    """The contract's descriptor of the gRPC service of `method` ("/<package>.<Service>/<Method>")."""
    try:
        return descriptor_pool.Default().FindServiceByName(method.removeprefix("/").partition("/")[0])
    except KeyError:
        return None


def contract_is_internal(method: str) -> bool:
    """Whether `method` belongs to an internal (service-to-service) service: only a service
    credential opens it."""
    service = _described_service(method)
    return service is not None and service.GetOptions().Extensions[options_pb2.internal]


def contract_requires_token(method: str) -> bool:
    """Whether the contract asks a user's access token of `method`: all methods do except public
    ones and those of internal services (which ask a service credential instead). A method the
    contract does not describe requires one."""
    if method.startswith(_OPEN_PREFIXES):
        return False
    service = _described_service(method)
    if service is None:
        return True
    if service.GetOptions().Extensions[options_pb2.internal]:
        return False
    described = service.methods_by_name.get(method.rpartition("/")[2])
    return described is None or not described.GetOptions().Extensions[options_pb2.public]


class RevocationCheck(Protocol):
    def refusal(self, caller: Caller) -> str | None:
        """Why the caller's token is revoked (the message to answer with), None when it is not;
        raises Unavailable when that cannot be known."""


class ServiceCredentialCheck(Protocol):
    def verify(self, credential: str) -> str:
        """The calling service; raises InvalidToken when the credential is not genuine and current."""


class Authenticator:
    """What the server interceptor runs before a handler: does this RPC need a caller, and who is it."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        revoked: RevocationCheck,
        open_methods: Collection[str] = frozenset(),
        *,
        service_credentials: ServiceCredentialCheck | None = None,
    ) -> None:
        self.verifier = verifier
        self.revoked = revoked
        # Methods without a descriptor (raw test services) that are callable without a token.
        self.open_methods = frozenset(open_methods)
        # None: no service credential is accepted, so internal services answer nobody.
        self.service_credentials = service_credentials
        self._requires_token: dict[str, bool] = {}
        self._internal: dict[str, bool] = {}

    def requires_token(self, method: str) -> bool:
        if method not in self._requires_token:
            self._requires_token[method] = method not in self.open_methods and contract_requires_token(method)
        return self._requires_token[method]

    def requires_service_credential(self, method: str) -> bool:
        if method not in self._internal:
            self._internal[method] = contract_is_internal(method)
        return self._internal[method]

    async def authenticate_service(self, metadata: Sequence[tuple[str, str | bytes]]) -> str:
        """The calling service, from its credential. A call without one is UNAUTHENTICATED, unless
        it carries a user's valid access token instead: a known caller who may not do this,
        PERMISSION_DENIED."""
        credential = service_credential(metadata)
        if credential is None:
            if any(key == "authorization" for key, _ in metadata):
                await self.authenticate(metadata)
                raise PermissionDenied(USER_NOT_ALLOWED)
            raise InvalidToken("no service credential", MISSING_CREDENTIAL)
        if self.service_credentials is None:
            raise InvalidToken("service credentials are not configured here", MISSING_CREDENTIAL)
        return self.service_credentials.verify(credential)

    async def authenticate(self, metadata: Sequence[tuple[str, str | bytes]]) -> Caller:
        caller = await self.verifier.verify(bearer_token(metadata))
        refusal = self.revoked.refusal(caller)
        if refusal is not None:
            raise InvalidToken("revoked", refusal)
        return caller

    async def optional_caller(self, metadata: Sequence[tuple[str, str | bytes]]) -> Caller | None:
        """For a public method, which answers anyone: the caller when the call carries an access
        token that passes `authenticate`, else None. A token that does not pass (or cannot be checked
        right now) is not refused: the caller is answered as anyone else would be."""
        if not any(key == "authorization" for key, _ in metadata):
            return None
        try:
            return await self.authenticate(metadata)
        except (InvalidToken, Unavailable):
            return None


def bearer_token(metadata: Sequence[tuple[str, str | bytes]]) -> str:
    """The token of the one `authorization: Bearer <token>` entry in the call's metadata."""
    values = [value for key, value in metadata if key == "authorization"]
    if not values:
        raise InvalidToken("no token", MISSING_TOKEN)
    if len(values) > 1 or not isinstance(values[0], str):
        raise InvalidToken("several or binary authorization entries")
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("not a bearer token", MISSING_TOKEN)
    return token.strip()


def service_credential(metadata: Sequence[tuple[str, str | bytes]]) -> str | None:
    """The one service credential in the call's metadata; None when there is none."""
    values = [value for key, value in metadata if key == SERVICE_CREDENTIAL_HEADER]
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise InvalidToken("several or binary service credentials", INVALID_CREDENTIAL)
    return values[0].strip()
