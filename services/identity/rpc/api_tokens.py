"""ApiTokenService: the caller's own API tokens (domain/api_tokens.py has the rules)."""

import datetime

from google.protobuf import empty_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.auth import require_caller
from services.identity import convert
from services.identity.domain import api_tokens
from services.identity.rpc.servicer import IdentityServicer


class ApiTokenServicer(IdentityServicer, identity_pb2_grpc.ApiTokenServiceServicer):
    async def ListApiTokens(self, request, context) -> identity_pb2.ListApiTokensResponse:
        rows = await api_tokens.list_tokens(self.pool, require_caller())
        return identity_pb2.ListApiTokensResponse(tokens=[convert.api_token(row) for row in rows])

    async def CreateApiToken(self, request, context) -> identity_pb2.CreatedApiToken:
        token = request.token
        row, secret = await api_tokens.create(
            self.pool,
            require_caller(),
            name=token.name,
            scope=token.scope,
            project_ids=list(token.project_ids),
            expires_at=token.expires_at.ToDatetime(datetime.UTC) if token.HasField("expires_at") else None,
        )
        return identity_pb2.CreatedApiToken(token=convert.api_token(row), secret=secret)

    async def DeleteApiToken(self, request, context) -> empty_pb2.Empty:
        await api_tokens.revoke(self.pool, require_caller(), request.token_id)
        return empty_pb2.Empty()
