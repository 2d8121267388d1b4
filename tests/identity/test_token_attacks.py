"""Each token attack is refused at the edge (HTTP 401 and gRPC UNAUTHENTICATED through Envoy) and by
each service that verifies tokens itself, called over gRPC without the gateway: identity, whose keys
sign them, and projects, which only has identity's published keys (issue 3, "Authentication
everywhere"; issue 9: a service port reached past the gateway must refuse them as well). The
service-to-service ComponentService answers a service credential instead
(tests/test_service_credentials.py).

The forgeries that need identity's own key (a wrong audience, a wrong issuer, a genuinely expired
token) are signed by identity's TokenIssuer, run here as an operator could run it: with the stack's
database and master secret. So each of them has exactly one thing wrong."""

import asyncio
import json
import time
import uuid

import grpc
import pytest

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit import service_secrets
from dockyard_kit.auth import CLOCK_LEEWAY_SECONDS, EXPIRED_TOKEN, INVALID_TOKEN, MISSING_TOKEN
from dockyard_kit.config import Settings
from dockyard_kit.service_auth import ServiceCredentials
from services.identity.domain.tokens import AccessGrant, TokenIssuer
from services.identity.settings import IdentitySettings
from tests.support.accounts import login, setup_admin
from tests.support.calls import TIMEOUT, bearer, rest
from tests.support.database import admin_database
from tests.support.tokens import (
    Signer,
    claims_of,
    header_of,
    hmac_signed,
    unsigned,
    with_claims,
    with_flipped_signature,
)

ME = identity_pb2.GetCurrentUserRequest()
SHORTEST_TTL = 30  # the least DOCKYARD_ACCESS_TOKEN_TTL_SECONDS allows


@pytest.fixture(scope="module")
def root_token(identity_channel) -> str:
    setup_admin(identity_channel, "root")
    return login(identity_channel, "root")


async def issue(stack, token: str, **settings) -> str:
    """An access token for the owner of `token`, signed by identity's current key under `settings`."""
    claims = claims_of(token)
    issuer = IdentitySettings(DOCKYARD_SECRET_KEY_FILE=stack.data_dir / "secret.key", **settings)
    async with admin_database(stack) as pool:
        issued = await TokenIssuer(issuer, service_secrets.for_service(issuer, "identity").key_ring()).issue(
            pool, AccessGrant(user_id=claims["sub"], role=claims["role"])
        )
    return issued.access_token


@pytest.fixture(scope="module")
async def attacks(stack, root_token, identity_channel) -> dict[str, str | None]:
    """Tokens every verifier must refuse, by name (None: no token at all)."""
    kid = header_of(root_token)["kid"]
    jwks = identity_pb2_grpc.AuthServiceStub(identity_channel).GetJwks(
        identity_pb2.GetJwksRequest(), timeout=TIMEOUT
    )
    (public_key,) = [key for key in json.loads(jwks.data)["keys"] if key["kid"] == kid]
    return {
        "missing": None,
        "malformed": "not.a.jwt",
        "tampered claims": with_claims(root_token, sub=str(uuid.uuid4())),
        "tampered signature": with_flipped_signature(root_token),
        "alg none": unsigned(claims_of(root_token), kid),
        "hmac with the public key": hmac_signed(claims_of(root_token), kid, public_key["x"].encode()),
        "wrong audience": await issue(stack, root_token, DOCKYARD_JWT_AUDIENCE="someone-else"),
        "wrong issuer": await issue(stack, root_token, DOCKYARD_JWT_ISSUER="https://evil.example"),
        "unknown kid": Signer().sign(claims_of(root_token)),
        "own key under identity's kid": Signer(kid=kid).sign(claims_of(root_token)),
    }


ATTACKS = [
    "missing",
    "malformed",
    "tampered claims",
    "tampered signature",
    "alg none",
    "hmac with the public key",
    "wrong audience",
    "wrong issuer",
    "unknown kid",
    "own key under identity's kid",
]


def current_user(channel, token: str | None) -> grpc.RpcError | identity_pb2.User:
    try:
        return identity_pb2_grpc.UserServiceStub(channel).GetCurrentUser(
            ME, metadata=bearer(token or ""), timeout=TIMEOUT
        )
    except grpc.RpcError as error:
        return error


def projects_list(channel, token: str | None) -> grpc.RpcError | projects_pb2.ListProjectsResponse:
    try:
        return projects_pb2_grpc.ProjectServiceStub(channel).ListProjects(
            projects_pb2.ListProjectsRequest(), metadata=bearer(token or ""), timeout=TIMEOUT
        )
    except grpc.RpcError as error:
        return error


def test_the_genuine_token_is_accepted_everywhere(
    stack, root_token, identity_channel, projects_channel, gateway_channel
):
    assert current_user(identity_channel, root_token).username == "root"
    assert current_user(gateway_channel, root_token).username == "root"
    status, body = rest(stack.port, "GET", "/v1/users/me", token=root_token)
    assert (status, body["username"]) == (200, "root")
    assert isinstance(projects_list(projects_channel, root_token), projects_pb2.ListProjectsResponse)
    assert isinstance(projects_list(gateway_channel, root_token), projects_pb2.ListProjectsResponse)
    assert rest(stack.port, "GET", "/v1/projects", token=root_token)[0] == 200


@pytest.mark.parametrize("path", ["/v1/users/me", "/v1/projects"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_refused_at_the_edge_over_http(stack, attacks, attack, path):
    status, body = rest(stack.port, "GET", path, token=attacks[attack] or "")

    assert status == 401, body
    assert body["code"] == 16


@pytest.mark.parametrize("call", [current_user, projects_list])
@pytest.mark.parametrize("attack", ATTACKS)
def test_refused_at_the_edge_over_grpc(gateway_channel, attacks, attack, call):
    error = call(gateway_channel, attacks[attack])

    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAUTHENTICATED, error


@pytest.mark.parametrize("attack", ATTACKS)
def test_refused_by_identity_called_directly(identity_channel, attacks, attack):
    error = current_user(identity_channel, attacks[attack])

    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    # Which check failed stays in identity's log; the caller learns what to do, nothing more.
    assert error.details() in (MISSING_TOKEN, INVALID_TOKEN)


@pytest.mark.parametrize("attack", ATTACKS)
def test_refused_by_projects_called_directly(projects_channel, attacks, attack):
    error = projects_list(projects_channel, attacks[attack])

    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    assert error.details() in (MISSING_TOKEN, INVALID_TOKEN)


def test_public_methods_need_no_token_and_ignore_a_bad_one(stack, identity_channel, attacks):
    for token in (None, attacks["tampered signature"]):
        jwks = identity_pb2_grpc.AuthServiceStub(identity_channel).GetJwks(
            identity_pb2.GetJwksRequest(), metadata=bearer(token or ""), timeout=TIMEOUT
        )
        assert b'"keys"' in jwks.data
    assert rest(stack.port, "GET", "/v1/system/status")[0] == 200


def test_component_status_stays_callable_between_services_with_a_service_credential(stack):
    credentials = ServiceCredentials.from_settings(
        Settings(DOCKYARD_SECRET_KEY_FILE=stack.data_dir / "secret.key"), "identity"
    )
    for service in ("identity", "projects", "deployer", "audit", "notifications"):
        with grpc.insecure_channel(stack.addresses[service]) as channel:
            status = system_pb2_grpc.ComponentServiceStub(channel).GetComponentStatus(
                system_pb2.GetComponentStatusRequest(),
                metadata=credentials.metadata(service),
                timeout=TIMEOUT,
            )
        assert status.service == service


async def test_an_expired_token_is_refused_everywhere(
    stack, identity_channel, projects_channel, gateway_channel, root_token
):
    """A token identity really issued, with the shortest lifetime settings allow, waited out."""
    token = await issue(stack, root_token, DOCKYARD_ACCESS_TOKEN_TTL_SECONDS=SHORTEST_TTL)
    assert current_user(identity_channel, token).username == "root"  # genuine while it lasts
    assert isinstance(projects_list(projects_channel, token), projects_pb2.ListProjectsResponse)

    await asyncio.sleep(claims_of(token)["exp"] + CLOCK_LEEWAY_SECONDS + 1 - time.time())

    direct = current_user(identity_channel, token)
    assert direct.code() == grpc.StatusCode.UNAUTHENTICATED
    assert direct.details() == EXPIRED_TOKEN
    at_projects = projects_list(projects_channel, token)
    assert (at_projects.code(), at_projects.details()) == (grpc.StatusCode.UNAUTHENTICATED, EXPIRED_TOKEN)
    assert current_user(gateway_channel, token).code() == grpc.StatusCode.UNAUTHENTICATED
    status, body = rest(stack.port, "GET", "/v1/users/me", token=token)
    assert (status, body) == (401, {"code": 16, "message": "Jwt is expired"})
