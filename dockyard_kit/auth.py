"""Who is calling: the verified caller of the current RPC, and the token rules every service shares.

The server interceptor verifies the access token (a JWT signed by identity) on every RPC that is
not public and puts the `Caller` in a context variable; handlers read it with `require_caller()`.

Access tokens (issued by identity, verified here and by Envoy's jwt_authn):
  header: alg ES256, kid, typ JWT
  claims: iss, aud (DOCKYARD_JWT_ISSUER / DOCKYARD_JWT_AUDIENCE), sub (user id), role (platform
          role), scope ("read_write" | "read_only"), projects (project ids the token is limited to;
          absent or empty: not limited), api_token_id (set when exchanged from an API token),
          jti, iat, exp.
"""

import contextvars
import dataclasses

from dockyard_kit.errors import PermissionDenied, Unauthenticated

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
    api_token_id: str = ""

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


def require_writer() -> Caller:
    """The caller, who must be allowed to change things at all."""
    caller = require_caller()
    if caller.scope == READ_ONLY:
        raise PermissionDenied("this token is read-only")
    return caller
