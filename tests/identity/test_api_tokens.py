"""API tokens: created for oneself with a scope, projects and an expiry, the secret shown once;
exchanged for access tokens that carry the token's limits and the owner's current role; refused
once expired, revoked, or when the owner is disabled; never managed with an API token.

The rules are checked through the domain functions against PostgreSQL (one database per test);
what a client sees is checked through the stack (gateway and direct gRPC)."""

import datetime
import uuid

import grpc
import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from dockyard_kit import service_secrets
from dockyard_kit.auth import Caller
from dockyard_kit.errors import AlreadyExists, NotFound, PermissionDenied, Unauthenticated
from services.identity import convert
from services.identity.domain import api_tokens, users
from services.identity.domain.tokens import TokenIssuer, utcnow
from services.identity.settings import IdentitySettings
from tests.support.calls import call
from tests.support.database import admin_database
from tests.support.tokens import jwks, unverified, verify

PASSWORD = "correct horse battery"
PROJECT_A = "7b0b5e1e-9f33-4a7e-9a3c-1f1f0c6a2d11"
PROJECT_B = "0d6f3c52-5a3e-4b55-8d1f-6a2b9c7e4f00"


def new_token(name: str = "ci", scope: str = "read_only", project_ids=()) -> dict:
    """What a client asks for, as keyword arguments of api_tokens.create."""
    return {"name": name, "scope": scope, "project_ids": list(project_ids), "expires_at": None}


def session_of(row) -> Caller:
    """The caller as a password sign-in makes them."""
    return Caller(user_id=str(row["id"]), role=row["role"])


def via_api_token(row, token_id: str) -> Caller:
    return Caller(user_id=str(row["id"]), role=row["role"], scope="read_write", api_token_id=token_id)


@pytest.fixture
def issuer(settings) -> TokenIssuer:
    identity_settings = IdentitySettings(**settings.model_dump())
    return TokenIssuer(
        identity_settings, service_secrets.for_service(identity_settings, "identity").key_ring()
    )


@pytest.fixture
async def owner(identity_pool):
    admin = await users.create_first_super_admin(identity_pool, "admin", "admin@example.com", PASSWORD)
    return await users.create_user(
        identity_pool,
        session_of(admin),
        username="deployer",
        email="deployer@example.com",
        password=PASSWORD,
        role="developer",
        preferences={},
    )


async def token_events(pool) -> list[tuple[Event, events_pb2.ApiTokenChanged]]:
    rows = await pool.fetch(
        "SELECT envelope FROM outbox WHERE subject LIKE 'dockyard.identity.api_token.%' ORDER BY id"
    )
    found = []
    for row in rows:
        event = Event.FromString(row["envelope"])
        payload = events_pb2.ApiTokenChanged()
        event.payload.Unpack(payload)
        found.append((event, payload))
    return found


# -- against the database -------------------------------------------------------------------------


async def test_the_secret_is_shown_once_and_stored_only_as_a_hash(identity_pool, owner):
    row, secret = await api_tokens.create(
        identity_pool, session_of(owner), **new_token(scope="read_write", project_ids=[PROJECT_A])
    )

    assert secret.startswith("dky_") and len(secret) > 40
    assert row["prefix"] == secret[:12]
    listed = await api_tokens.list_tokens(identity_pool, session_of(owner))
    message = convert.api_token(listed[0])
    assert (message.name, message.scope, list(message.project_ids)) == ("ci", "read_write", [PROJECT_A])
    assert secret not in str(message)
    stored = await identity_pool.fetchrow("SELECT * FROM api_tokens WHERE id = $1", row["id"])
    assert secret.encode() not in bytes(stored["token_hash"]) and len(stored["token_hash"]) == 32

    [(event, payload)] = await token_events(identity_pool)
    assert event.type == "identity.api_token.created" and event.resource_id == str(row["id"])
    assert payload.user_id == str(owner["id"]) and event.actor_user_id == str(owner["id"])
    assert secret[12:] not in event.SerializeToString().decode("latin-1")


async def test_the_exchanged_access_token_carries_the_tokens_limits_and_the_owners_current_role(
    identity_pool, owner, issuer
):
    row, secret = await api_tokens.create(
        identity_pool, session_of(owner), **new_token(scope="read_only", project_ids=[PROJECT_A, PROJECT_B])
    )
    issued = await api_tokens.exchange(identity_pool, issuer, secret)

    claims = unverified(issued.access_token)[1]
    assert verify(issued.access_token, await issuer.jwks(identity_pool))["sub"] == str(owner["id"])
    assert (claims["role"], claims["scope"], claims["api_token_id"]) == (
        "developer",
        "read_only",
        str(row["id"]),
    )
    assert sorted(claims["projects"]) == sorted([PROJECT_A, PROJECT_B])
    assert claims["exp"] - claims["iat"] == issued.expires_in
    assert (await api_tokens.list_tokens(identity_pool, session_of(owner)))[0]["last_used_at"] is not None

    await identity_pool.execute("UPDATE users SET role = 'viewer' WHERE id = $1", owner["id"])
    demoted = unverified((await api_tokens.exchange(identity_pool, issuer, secret)).access_token)[1]
    assert demoted["role"] == "viewer"  # never more than its owner may do today


@pytest.mark.parametrize("spoil", ["expire", "revoke", "disable_owner", "delete_owner", "unknown"])
async def test_spoilt_tokens_are_refused_alike(identity_pool, owner, issuer, spoil):
    row, secret = await api_tokens.create(identity_pool, session_of(owner), **new_token())
    if spoil == "expire":
        await identity_pool.execute("UPDATE api_tokens SET expires_at = now() WHERE id = $1", row["id"])
    elif spoil == "revoke":
        await api_tokens.revoke(identity_pool, session_of(owner), str(row["id"]))
    elif spoil == "disable_owner":
        await identity_pool.execute("UPDATE users SET disabled_at = now() WHERE id = $1", owner["id"])
    elif spoil == "delete_owner":
        await identity_pool.execute("DELETE FROM users WHERE id = $1", owner["id"])
    else:
        secret = secret[:-4] + "AAAA"

    with pytest.raises(Unauthenticated) as refused:
        await api_tokens.exchange(identity_pool, issuer, secret)
    assert refused.value.message == api_tokens.INVALID_API_TOKEN


async def test_an_api_token_may_list_tokens_but_not_create_or_delete_them(identity_pool, owner):
    row, _ = await api_tokens.create(identity_pool, session_of(owner), **new_token())
    automation = via_api_token(owner, str(row["id"]))

    with pytest.raises(PermissionDenied):
        await api_tokens.create(identity_pool, automation, **new_token("another", scope="bad scope too"))
    with pytest.raises(PermissionDenied):
        await api_tokens.revoke(identity_pool, automation, str(row["id"]))
    assert [token["id"] for token in await api_tokens.list_tokens(identity_pool, automation)] == [row["id"]]


async def test_one_may_revoke_only_ones_own_live_tokens(identity_pool, owner):
    row, _ = await api_tokens.create(identity_pool, session_of(owner), **new_token())
    stranger = Caller(user_id=str(uuid.uuid4()), role="super_admin")

    with pytest.raises(NotFound):
        await api_tokens.revoke(identity_pool, stranger, str(row["id"]))
    await api_tokens.revoke(identity_pool, session_of(owner), str(row["id"]))
    with pytest.raises(NotFound):
        await api_tokens.revoke(identity_pool, session_of(owner), str(row["id"]))

    assert await api_tokens.list_tokens(identity_pool, session_of(owner)) == []
    types = [event.type for event, _ in await token_events(identity_pool)]
    assert types == ["identity.api_token.created", "identity.api_token.revoked"]


async def test_names_are_unique_among_ones_live_tokens(identity_pool, owner):
    row, _ = await api_tokens.create(identity_pool, session_of(owner), **new_token("ci"))
    with pytest.raises(AlreadyExists) as duplicate:
        await api_tokens.create(identity_pool, session_of(owner), **new_token("ci"))
    assert duplicate.value.field == "token.name"

    await api_tokens.revoke(identity_pool, session_of(owner), str(row["id"]))
    again, _ = await api_tokens.create(identity_pool, session_of(owner), **new_token("ci"))
    assert again["id"] != row["id"]


# -- through the stack ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_in_admin(people) -> str:
    """The super_admin's access token from a password sign-in."""
    return people.super_admin.token


def create_over_http(stack, token: str, **fields):
    return call(
        stack,
        "POST",
        "/v1/users/me/api-tokens",
        {"name": "deploy", "scope": "read_only", **fields},
        token=token,
    )


def test_create_exchange_use_and_delete_over_http(stack, signed_in_admin):
    expires_at = (utcnow() + datetime.timedelta(days=7)).replace(microsecond=0)
    status, created = create_over_http(
        stack,
        signed_in_admin,
        name="deploy",
        scope="read_write",
        project_ids=[PROJECT_A],
        expires_at=expires_at.isoformat().replace("+00:00", "Z"),
    )
    assert status == 200, created
    secret, token = created["secret"], created["token"]
    assert token["prefix"] == secret[:12] and token["project_ids"] == [PROJECT_A]

    status, exchanged = call(stack, "POST", "/v1/auth/token", {"api_token": secret})
    assert status == 200, exchanged
    assert exchanged["token_type"] == "Bearer" and not exchanged.get("refresh_token")
    claims = verify(exchanged["access_token"], jwks(stack))
    assert (claims["scope"], claims["projects"], claims["api_token_id"]) == (
        "read_write",
        [PROJECT_A],
        token["id"],
    )

    # A project-limited token is for project work: in identity it neither lists nor manages tokens.
    assert call(stack, "GET", "/v1/users/me/api-tokens", token=exchanged["access_token"])[0] == 403
    status, listed = call(stack, "GET", "/v1/users/me/api-tokens", token=signed_in_admin)
    assert status == 200, listed
    assert token["id"] in [item["id"] for item in listed["tokens"]] and "secret" not in str(listed)
    assert create_over_http(stack, exchanged["access_token"], name="minted")[0] == 403
    assert (
        call(stack, "DELETE", f"/v1/users/me/api-tokens/{token['id']}", token=exchanged["access_token"])[0]
        == 403
    )

    assert call(stack, "DELETE", f"/v1/users/me/api-tokens/{token['id']}", token=signed_in_admin)[0] == 200
    assert call(stack, "POST", "/v1/auth/token", {"api_token": secret})[0] == 401
    assert call(stack, "DELETE", f"/v1/users/me/api-tokens/{token['id']}", token=signed_in_admin)[0] == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "token.name"),
        ({"scope": "admin"}, "token.scope"),
        ({"project_ids": ["project-a"]}, "token.project_ids"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "token.expires_at"),
        ({"expires_at": "2999-01-01T00:00:00Z"}, "token.expires_at"),
    ],
)
def test_bad_input_names_its_field_and_creates_nothing(
    stack, signed_in_admin, identity_channel, fields, field
):
    before = call(stack, "GET", "/v1/users/me/api-tokens", token=signed_in_admin)[1].get("tokens", [])
    status, body = create_over_http(stack, signed_in_admin, **fields)
    assert status == 400, body
    assert body["details"][0]["field_violations"][0]["field"] == field

    token = identity_pb2.ApiToken(name=fields.get("name", "deploy"), scope=fields.get("scope", "read_only"))
    token.project_ids.extend(fields.get("project_ids", []))
    if "expires_at" in fields:
        token.expires_at.FromJsonString(fields["expires_at"])
    stub = identity_pb2_grpc.ApiTokenServiceStub(identity_channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreateApiToken(
            identity_pb2.CreateApiTokenRequest(token=token),
            metadata=[("authorization", f"Bearer {signed_in_admin}")],
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"{field}:")
    assert call(stack, "GET", "/v1/users/me/api-tokens", token=signed_in_admin)[1].get("tokens", []) == before


def test_anonymous_callers_are_refused_before_their_input_is_read(stack):
    assert create_over_http(stack, "", scope="admin")[0] == 401
    assert call(stack, "GET", "/v1/users/me/api-tokens")[0] == 401


async def test_an_expired_api_token_is_refused_at_the_exchange(stack, signed_in_admin):
    _, created = create_over_http(stack, signed_in_admin, name="short-lived")
    async with admin_database(stack) as pool:
        await pool.execute(
            "UPDATE api_tokens SET expires_at = now() WHERE id = $1::uuid", created["token"]["id"]
        )
    status, body = call(stack, "POST", "/v1/auth/token", {"api_token": created["secret"]})
    assert status == 401, body
