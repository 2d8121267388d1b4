"""AuthService: first-run setup, sign-in, sessions, API token exchange and the JWKS. Every method is
public (no access token needed): they are how one gets an access token."""

import datetime
import json

from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.server import ServiceRuntime
from services.identity import convert
from services.identity.domain import api_tokens, sessions
from services.identity.domain.tokens import IssuedToken, TokenIssuer
from services.identity.domain.users import create_first_super_admin
from services.identity.rpc.servicer import IdentityServicer


def _token_response(access: IssuedToken, refresh_token: str = "") -> identity_pb2.TokenResponse:
    return identity_pb2.TokenResponse(
        access_token=access.access_token,
        refresh_token=refresh_token,
        expires_in=access.expires_in,
        token_type="Bearer",
    )


class AuthServicer(IdentityServicer, identity_pb2_grpc.AuthServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.issuer = TokenIssuer(runtime.settings, runtime.key_ring)
        # From identity's own current root key, as its sealing keys are (no other service can compute it).
        self.login_digest_key = sessions.login_digest_key(runtime.secrets.sealing_keys[0])

    @property
    def refresh_ttl(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.runtime.settings.DOCKYARD_REFRESH_TOKEN_TTL_SECONDS)

    async def Setup(self, request, context) -> identity_pb2.User:
        row = await create_first_super_admin(self.pool, request.username, request.email, request.password)
        return convert.user(row)

    async def Login(self, request, context) -> identity_pb2.TokenResponse:
        session = await sessions.login(
            self.pool,
            self.issuer,
            request.username,
            request.password,
            refresh_ttl=self.refresh_ttl,
            digest_key=self.login_digest_key,
        )
        return _token_response(session.access, session.refresh_token)

    async def Refresh(self, request, context) -> identity_pb2.TokenResponse:
        session = await sessions.refresh(
            self.pool, self.issuer, request.refresh_token, refresh_ttl=self.refresh_ttl
        )
        return _token_response(session.access, session.refresh_token)

    async def Logout(self, request, context) -> empty_pb2.Empty:
        await sessions.logout(self.pool, request.refresh_token)
        return empty_pb2.Empty()

    async def ExchangeApiToken(self, request, context) -> identity_pb2.TokenResponse:
        access = await api_tokens.exchange(self.pool, self.issuer, request.api_token)
        return _token_response(access)

    async def GetJwks(self, request, context) -> httpbody_pb2.HttpBody:
        jwks = await self.issuer.jwks(self.pool)
        return httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(jwks).encode())
