"""Access tokens at the edge: the generated jwt_authn in a real Envoy, which fetches the backend's
JWKS through its own listener (see conftest.py and support.py)."""

import asyncio
import json
import time

import grpc
import pytest

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from tests.gateway.support import FAIL_HEADER, SIGNER, bearer
from tests.support.tokens import (
    Signer,
    hmac_signed,
    unsigned,
    valid_claims,
    with_claims,
    with_flipped_signature,
)

JSON = {"content-type": "application/json"}
CREATE_WIDGET = "/dockyard.audit.v1.GatewayFixtureService/CreateWidget"


def attacks() -> dict[str, str | None]:
    """Tokens the edge must refuse, by name (None: no token at all)."""
    now = int(time.time())
    return {
        "missing": None,
        "expired": SIGNER.token(iat=now - 600, exp=now - 60),
        "tampered claims": with_claims(SIGNER.token(), role="super_admin"),
        "tampered signature": with_flipped_signature(SIGNER.token()),
        "alg none": unsigned(valid_claims(), SIGNER.kid),
        "hmac with the public key": hmac_signed(
            valid_claims(), SIGNER.kid, SIGNER.public_jwk()["x"].encode()
        ),
        "wrong audience": SIGNER.token(aud="someone-else"),
        "wrong issuer": SIGNER.token(iss="https://evil.example"),
        "unknown kid": Signer().token(),
        "no expiry": SIGNER.token(exp=None),
        "not a jwt": "garbage",
    }


async def test_public_methods_answer_without_a_token(gateway, backend):
    for path in ("/v1/system/status", "/v1/fixture/widgets/crate", "/v1/fixture/shelves/top/widgets/crate"):
        response = await gateway.request("GET", path)
        assert response.status == 200, (path, response.body)

    jwks = await gateway.request("GET", "/.well-known/jwks.json")
    assert jwks.status == 200
    assert json.loads(jwks.body) == json.loads(SIGNER.jwks())

    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        assert (
            await stub.GetSystemStatus(system_pb2.GetSystemStatusRequest(), timeout=5)
        ).database.configured


async def test_every_other_route_needs_a_token(gateway):
    cases = [
        ("POST", "/v1/fixture/widgets"),
        # Paths that extend or share a public template, but with another verb or method.
        ("POST", "/v1/fixture/widgets/crate:archive"),
        ("POST", "/v1/fixture/widgets/crate"),
        ("GET", "/v1/fixture/widgets/crate:archive"),
        ("GET", "/v1/fixture/widgets:watch"),
        # Unknown paths too: anonymous clients learn nothing about what exists.
        ("GET", "/nope"),
        ("GET", "/v1/fixture/internal"),
    ]
    for method, path in cases:
        response = await gateway.request(method, path, b"{}", JSON)
        assert response.status == 401, (method, path, response.status)
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"code": 16, "message": "Jwt is missing"}

    archived = await gateway.request("POST", "/v1/fixture/widgets/crate:archive", b"{}", {**JSON, **bearer()})
    assert archived.status == 200
    assert archived.json()["archived"] is True


@pytest.mark.parametrize("attack", list(attacks()))
async def test_each_token_attack_gets_401_over_http(gateway, attack):
    token = attacks()[attack]
    headers = {**JSON, **(bearer(token) if token else {})}

    response = await gateway.request("POST", "/v1/fixture/widgets", b'{"name": "crate"}', headers)

    assert response.status == 401, response.body
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == 16
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("attack", list(attacks()))
async def test_each_token_attack_gets_unauthenticated_over_grpc(gateway, attack):
    token = attacks()[attack]
    metadata = tuple(bearer(token).items()) if token else ()
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(CREATE_WIDGET)(b"", metadata=metadata, timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_good_token_reaches_the_service_unchanged(gateway, backend):
    token = SIGNER.token()

    response = await gateway.request(
        "POST", "/v1/fixture/widgets", b'{"name": "crate"}', {**JSON, **bearer(token)}
    )
    assert response.status == 200
    assert backend.authorizations[-1] == f"Bearer {token}"

    async with grpc.aio.insecure_channel(gateway.address) as channel:
        await channel.unary_unary(CREATE_WIDGET)(b"", metadata=tuple(bearer(token).items()), timeout=5)
    assert backend.authorizations[-1] == f"Bearer {token}"


async def test_the_keys_are_fetched_ahead_not_per_request(gateway, backend):
    # Envoy's main thread retries a failed first fetch (made before its listener was up) after 1 s,
    # then refetches only shortly before its copy expires (60 s): wait for that quiet period.
    async with asyncio.timeout(10):
        while True:
            fetches = backend.auth.jwks_fetches
            await asyncio.sleep(1.5)
            if fetches and backend.auth.jwks_fetches == fetches:
                break
    for _ in range(40):
        response = await gateway.request("POST", "/v1/fixture/widgets", b"{}", {**JSON, **bearer()})
        assert response.status == 200
    assert backend.auth.jwks_fetches == fetches


async def test_only_refused_tokens_become_401_not_a_services_own_403(gateway):
    wrong_audience = await gateway.request(
        "POST", "/v1/fixture/widgets", b"{}", bearer(SIGNER.token(aud="x"))
    )
    assert wrong_audience.status == 401  # jwt_authn itself says 403 here
    assert wrong_audience.json() == {"code": 16, "message": "Audiences in Jwt are not allowed"}

    denied = await gateway.request("GET", "/v1/system/status", headers={FAIL_HEADER: "permission_denied"})
    assert denied.status == 403
    assert denied.json() == {"code": 7, "message": "status pages are for admins", "details": []}
