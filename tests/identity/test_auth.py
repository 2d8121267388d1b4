"""Signing in, end to end on the whole stack: first-run setup, login, access tokens and the JWKS,
refresh-token rotation and reuse, logout, throttling with its events (one counter per account,
never the login as typed; parallel guesses counted before any password is checked; a flood refused
rather than queued), signing keys encrypted at rest and rotated.

HTTP requests go through the gateway, some from other loopback addresses (127.0.0.x) so that the
per-address throttle of one test does not limit the others; gRPC calls go through the gateway or
straight to identity."""

import concurrent.futures
import datetime
import json
import time
import urllib.request

import grpc
import pytest
from joserfc.jwk import ECKey
from prometheus_client.parser import text_string_to_metric_families

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from dockyard_kit import service_secrets
from dockyard_kit.crypto import KeyRing, decrypt, master_key_id
from services.identity.domain import passwords, sessions, throttle, tokens
from services.identity.domain.tokens import utcnow
from services.identity.settings import IdentitySettings
from tests.support.calls import USER_AGENT, call
from tests.support.database import admin_database
from tests.support.tokens import jwks, unverified, verify

ADMIN = {"username": "root", "email": "Root@Example.com", "password": "correct horse battery"}
TTL_SECONDS = 900  # the default DOCKYARD_ACCESS_TOKEN_TTL_SECONDS


# -- helpers --------------------------------------------------------------------------------------


def login(stack, username: str, password: str, *, source: str = "127.0.0.1"):
    """A password sign-in over REST from `source`: (status, JSON body)."""
    return call(stack, "POST", "/v1/auth/login", {"username": username, "password": password}, source=source)


def signed_in(stack) -> dict:
    status, body = login(stack, ADMIN["username"], ADMIN["password"])
    assert status == 200, body
    return body


def create_user(stack, username: str) -> dict:
    """A developer created by the super admin (REST), with the admin's password."""
    user = {"username": username, "email": f"{username}@example.com", "password": ADMIN["password"]}
    status, body = call(
        stack, "POST", "/v1/users", {**user, "role": "developer"}, token=signed_in(stack)["access_token"]
    )
    assert status == 200, body
    return body


def stack_settings(stack) -> IdentitySettings:
    """Settings as the stack's identity reads them, with the master secret: the default TTLs."""
    return IdentitySettings(DOCKYARD_SECRET_KEY_FILE=stack.data_dir / "secret.key")


def identity_secrets(stack) -> service_secrets.ServiceSecrets:
    """identity's keys, derived from the stack's master secret as the bootstrap step derives them."""
    return service_secrets.for_service(stack_settings(stack), "identity")


def digest_of(stack, login: str) -> str:
    """What identity files a login that matches no account under."""
    key = sessions.login_digest_key(identity_secrets(stack).sealing_keys[0])
    return sessions.login_digest(key, login)


async def login_events(
    stack, *, user_id: str = "", digest: str = ""
) -> list[tuple[Event, events_pb2.LoginAttempted]]:
    """The sign-in events of one account (`user_id`) or of one login that matches none (`digest`)."""
    async with admin_database(stack) as pool:
        rows = await pool.fetch(
            "SELECT envelope FROM outbox WHERE subject LIKE 'dockyard.identity.auth.login_%' ORDER BY id"
        )
    found = []
    for row in rows:
        event = Event.FromString(row["envelope"])
        payload = events_pb2.LoginAttempted()
        event.payload.Unpack(payload)
        if (payload.user_id, payload.login_digest) == (user_id, digest):
            found.append((event, payload))
    return found


def password_checks(stack) -> float:
    """How many bcrypt password checks identity has run, from its metrics endpoint."""
    with urllib.request.urlopen(
        f"http://{stack.state['metrics']['identity']}/metrics", timeout=10
    ) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "dockyard_identity_password_checks":
            return next(sample.value for sample in family.samples if sample.name.endswith("_total"))
    raise AssertionError("identity exports no dockyard_identity_password_checks_total")


def timed_login(stack, username: str, password: str, source: str) -> tuple[int, dict, float]:
    started = time.perf_counter()
    status, body = login(stack, username, password, source=source)
    return status, body, time.perf_counter() - started


def grpc_error(function, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        function(request, timeout=30)
    return raised.value


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_direct(identity_channel):
    return identity_pb2_grpc.AuthServiceStub(identity_channel)


@pytest.fixture(scope="module")
def auth_via_gateway(gateway_channel):
    return identity_pb2_grpc.AuthServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def super_admin(stack) -> dict:
    """First-run setup, done once for the module: the created user as the gateway returned it."""
    status, body = call(stack, "POST", "/v1/setup", ADMIN)
    assert status == 200, body
    return body


# -- setup ----------------------------------------------------------------------------------------


def test_setup_creates_the_first_super_admin_then_refuses(stack, super_admin, auth_direct):
    assert super_admin["username"] == "root"
    assert super_admin["role"] == "super_admin"
    assert "password" not in super_admin or super_admin["password"] == ""

    again = grpc_error(auth_direct.Setup, identity_pb2.SetupRequest(**{**ADMIN, "username": "second"}))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    status, body = call(stack, "POST", "/v1/setup", {**ADMIN, "username": "third", "email": "t@example.com"})
    assert status in (400, 409), body


# -- login and access tokens ----------------------------------------------------------------------


def test_login_by_username_or_email_in_any_case_gives_bearer_tokens(stack, super_admin):
    for name in ("root", "root@example.com", "ROOT@EXAMPLE.COM"):
        status, body = login(stack, name, ADMIN["password"])
        assert status == 200, body
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == TTL_SECONDS
        assert body["refresh_token"].startswith("dkr_")
        assert unverified(body["access_token"])[1]["sub"] == super_admin["id"]


def test_the_access_token_carries_the_contract_header_and_claims(stack, super_admin):
    before = time.time()
    header, claims = unverified(signed_in(stack)["access_token"])

    assert header["alg"] == "ES256" and header["typ"] == "JWT" and header["kid"]
    assert claims["iss"] == "dockyard" and claims["aud"] == "dockyard"
    assert claims["sub"] == super_admin["id"]
    assert claims["role"] == "super_admin" and claims["scope"] == "read_write"
    assert claims["jti"] and "projects" not in claims and "api_token_id" not in claims
    assert before - 2 <= claims["iat"] <= time.time() + 2
    assert claims["exp"] - claims["iat"] == TTL_SECONDS


def test_the_gateway_serves_the_jwks_that_verifies_access_tokens(stack, super_admin, auth_via_gateway):
    token = signed_in(stack)["access_token"]
    document = jwks(stack)

    assert document["keys"]
    for key in document["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # never "d"
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert unverified(token)[0]["kid"] in {key["kid"] for key in document["keys"]}
    assert verify(token, document)["sub"] == super_admin["id"]

    over_grpc = auth_via_gateway.GetJwks(identity_pb2.GetJwksRequest(), timeout=10)
    assert over_grpc.content_type == "application/json"
    assert json.loads(over_grpc.data) == document


def test_wrong_password_unknown_user_and_bad_input_never_tell_whether_an_account_exists(
    stack, super_admin, auth_direct
):
    started = time.perf_counter()
    wrong = grpc_error(
        auth_direct.Login, identity_pb2.LoginRequest(username="root", password="not the password")
    )
    wrong_seconds = time.perf_counter() - started
    started = time.perf_counter()
    unknown = grpc_error(
        auth_direct.Login, identity_pb2.LoginRequest(username="nobody", password="not the password")
    )
    unknown_seconds = time.perf_counter() - started

    assert wrong.code() == unknown.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == unknown.details()
    # Both check a bcrypt hash (a dummy one for the unknown user), so neither is conspicuously quicker.
    assert unknown_seconds > wrong_seconds / 3 and wrong_seconds > unknown_seconds / 3

    wrong_status, wrong_body = login(stack, "root", "not the password either", source="127.0.0.9")
    unknown_status, unknown_body = login(stack, "nobody", "not the password either", source="127.0.0.9")
    assert wrong_status == unknown_status == 401
    assert wrong_body["message"] == unknown_body["message"]


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [("", "whatever password", "username"), ("root", "", "password"), ("root", "p" * 73, "password")],
)
def test_login_input_is_checked_and_names_its_field(
    stack, super_admin, auth_direct, username, password, field
):
    error = grpc_error(auth_direct.Login, identity_pb2.LoginRequest(username=username, password=password))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:")


# -- sessions -------------------------------------------------------------------------------------


def refresh(stack, refresh_token: str):
    return call(stack, "POST", "/v1/auth/refresh", {"refresh_token": refresh_token})


def test_refresh_rotates_the_refresh_token_and_issues_a_new_access_token(stack, super_admin):
    first = signed_in(stack)
    status, second = refresh(stack, first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert verify(second["access_token"], jwks(stack))["sub"] == super_admin["id"]

    status, third = refresh(stack, second["refresh_token"])
    assert status == 200, third


def test_reusing_a_used_refresh_token_revokes_the_whole_family(stack, super_admin, auth_direct):
    other_session = signed_in(stack)
    first = signed_in(stack)
    _, second = refresh(stack, first["refresh_token"])

    reuse = grpc_error(auth_direct.Refresh, identity_pb2.RefreshRequest(refresh_token=first["refresh_token"]))
    assert reuse.code() == grpc.StatusCode.UNAUTHENTICATED

    status, body = refresh(stack, second["refresh_token"])  # the newest of the family, never used
    assert status == 401, body
    status, body = refresh(stack, other_session["refresh_token"])  # another sign-in is untouched
    assert status == 200, body


def test_logout_revokes_the_session(stack, super_admin, auth_direct):
    session = signed_in(stack)
    _, rotated = refresh(stack, session["refresh_token"])

    status, body = call(stack, "POST", "/v1/auth/logout", {"refresh_token": rotated["refresh_token"]})
    assert status == 200, body
    assert refresh(stack, rotated["refresh_token"])[0] == 401

    unknown = grpc_error(auth_direct.Logout, identity_pb2.LogoutRequest(refresh_token="dkr_made-up"))
    assert unknown.code() == grpc.StatusCode.UNAUTHENTICATED
    empty = grpc_error(auth_direct.Logout, identity_pb2.LogoutRequest())
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT and empty.details().startswith("refresh_token:")


async def test_an_expired_refresh_token_is_refused(stack, super_admin):
    session = signed_in(stack)
    async with admin_database(stack) as pool:
        await pool.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"
            " WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
            session["refresh_token"],
        )
    assert refresh(stack, session["refresh_token"])[0] == 401


async def test_a_disabled_user_can_neither_sign_in_nor_refresh(stack, super_admin):
    session = signed_in(stack)
    async with admin_database(stack) as pool:
        await pool.execute("UPDATE users SET disabled_at = now() WHERE username = 'root'")
        try:
            status, body = login(stack, "root", ADMIN["password"], source="127.0.0.8")
            _, wrong_body = login(stack, "root", "not the password", source="127.0.0.8")
            refreshed = refresh(stack, session["refresh_token"])[0]
        finally:
            await pool.execute("UPDATE users SET disabled_at = NULL WHERE username = 'root'")

    assert status == 401 and body["message"] == wrong_body["message"]
    assert refreshed == 401
    reasons = [payload.reason for _, payload in await login_events(stack, user_id=super_admin["id"])]
    assert "disabled" in reasons
    assert refresh(stack, session["refresh_token"])[0] == 401  # the session was revoked, not suspended


# -- throttling -----------------------------------------------------------------------------------


async def test_repeated_failures_for_one_account_are_slowed_then_refused_with_events(stack, auth_direct):
    source = "127.0.0.2"
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        status, _ = login(stack, "Guessed-Name", "wrong password", source=source)
        durations.append(time.perf_counter() - started)
        assert status == 401
    # From the 4th attempt on, each waits (0.5 s, then 1 s) before the password is even checked. The
    # quickest undelayed attempt is the baseline: on a loaded machine one bcrypt check varies a lot.
    undelayed = min(durations[:3])
    assert durations[3] > undelayed + 0.4 and durations[4] > undelayed + 0.9

    status, body = login(stack, "guessed-name", "wrong password", source=source)
    assert status == 429, body
    # The account is locked whatever the address, over gRPC too.
    locked = grpc_error(
        auth_direct.Login, identity_pb2.LoginRequest(username="GUESSED-NAME", password="x" * 12)
    )
    assert locked.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    # One login in any case, filed under one keyed digest of it, never as typed.
    events = await login_events(stack, digest=digest_of(stack, "guessed-name"))
    reasons = sorted(payload.reason for _, payload in events)
    assert reasons == ["bad_credentials"] * 5 + ["throttled"] * 2
    over_rest = [event for event, _ in events if event.request.user_agent == USER_AGENT]
    assert len(over_rest) == 6 and all(event.request.client_ip == source for event in over_rest)
    for event, payload in events:
        assert event.type == "identity.auth.login_failed"
        assert payload.user_id == "" and payload.username == "" and event.resource_type == "user"
        serialized = event.SerializeToString().decode("latin-1").lower()
        assert "guessed-name" not in serialized and "wrong password" not in serialized


async def test_username_and_email_share_one_counter_and_events_name_the_account(stack, super_admin):
    user = create_user(stack, "two-names")
    source = "127.0.0.5"
    # Five guesses in all, by either name in any case: the account's limit.
    for name in ("two-names", "Two-Names@Example.com", "two-names", "TWO-NAMES", "two-names@example.com"):
        assert login(stack, name, "wrong password", source=source)[0] == 401

    status, body = login(stack, "two-names", ADMIN["password"], source="127.0.0.6")
    assert status == 429, body  # locked, however it is named and wherever from

    events = await login_events(stack, user_id=user["id"])
    assert sorted(payload.reason for _, payload in events) == ["bad_credentials"] * 5 + ["throttled"]
    for event, payload in events:
        assert event.resource_id == user["id"] and payload.login_digest == "" and payload.username == ""
        assert "example.com" not in event.SerializeToString().decode("latin-1").lower()
    async with admin_database(stack) as pool:
        keys = await pool.fetch("SELECT key, failures FROM login_throttle WHERE key LIKE 'account:%'")
    assert {row["key"]: row["failures"] for row in keys}[throttle.account_key(user["id"])] == 5
    assert not any("two-names" in row["key"] for row in keys)


def test_parallel_guesses_at_one_account_check_no_more_passwords_than_the_limit(stack, super_admin):
    create_user(stack, "parallel-target")
    checks_before = password_checks(stack)
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(
                lambda _: login(stack, "parallel-target", "wrong password", source="127.0.0.7"), range(50)
            )
        )
    checks = password_checks(stack) - checks_before

    statuses = [status for status, _ in answers]
    assert checks <= throttle.ACCOUNT_LIMITS.lock_after
    assert statuses.count(401) == checks and statuses.count(429) == 50 - checks
    # Refused while the limit's worth of guesses are being checked, or once they failed and locked.
    assert all(
        body["message"].startswith(("too many sign-ins at once", "too many failed sign-ins"))
        for status, body in answers
        if status == 429
    )


def test_parallel_sign_ins_with_the_right_password_are_never_locked_out(stack, super_admin):
    # Attempts count before their password is checked, but only a wrong password locks: a burst of
    # right ones is at worst asked to retry, and the account stays open.
    create_user(stack, "parallel-right")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda _: login(stack, "parallel-right", ADMIN["password"], source="127.0.0.8"), range(20)
            )
        )
    statuses = [status for status, _ in answers]
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 429}, statuses
    assert not any(body["message"].startswith("too many failed") for status, body in answers if status == 429)
    assert login(stack, "parallel-right", ADMIN["password"], source="127.0.0.8")[0] == 200


async def test_a_flood_beyond_the_hashing_slots_is_refused_at_once_not_queued(stack, super_admin):
    # At once, far more sign-ins than there are slots: logins matching no account (each its own
    # counter) from addresses of their own (each its own counter), so only the slots limit them.
    flood = max(50, 4 * passwords.HASHING_SLOTS)
    checks_before = password_checks(stack)
    with concurrent.futures.ThreadPoolExecutor(flood) as pool:
        answers = list(
            pool.map(
                lambda n: timed_login(
                    stack, f"flood-{n}", "wrong password", f"127.1.{n // 250}.{n % 250 + 1}"
                ),
                range(flood),
            )
        )
    checks = password_checks(stack) - checks_before

    checked = [seconds for status, _, seconds in answers if status == 401]
    busy = [(body, seconds) for status, body, seconds in answers if status == 429]
    assert len(checked) + len(busy) == flood and len(checked) == checks  # a refused one checked nothing
    assert busy, f"all {flood} were checked: the hashing work was queued, not bounded"
    assert all(body["message"] == passwords.BUSY for body, _ in busy)
    # Refused without waiting for a hashing thread: quicker than the checks that did wait.
    assert max(seconds for _, seconds in busy) < max(checked)
    # Nothing checked, nothing counted: only the checked attempts stay on their addresses' counters.
    async with admin_database(stack) as pool:
        counted = await pool.fetchval("SELECT sum(failures) FROM login_throttle WHERE key LIKE 'ip:127.1.%'")
    assert counted == len(checked)


def test_one_client_address_is_refused_after_failures_across_many_accounts(stack, super_admin):
    source = "127.0.0.3"
    # Five at a time: the per-address delay (from the 10th failure) does not add up, and the hashing
    # slots are never all taken (a flood beyond them is refused, see below).
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        statuses = list(
            pool.map(lambda n: login(stack, f"spray-{n}", "wrong password", source=source)[0], range(20))
        )
    assert statuses == [401] * 20

    status, body = login(stack, "root", ADMIN["password"], source=source)
    assert status == 429, body
    assert login(stack, "root", ADMIN["password"], source="127.0.0.1")[0] == 200  # other addresses sign in


async def test_a_successful_sign_in_clears_the_account_counter(stack, super_admin):
    signed_in(stack)
    for _ in range(2):
        assert login(stack, "root", "wrong password", source="127.0.0.4")[0] == 401
    account = throttle.account_key(super_admin["id"])
    async with admin_database(stack) as pool:
        assert await pool.fetchval("SELECT failures FROM login_throttle WHERE key = $1", account) == 2
        assert login(stack, "root", ADMIN["password"], source="127.0.0.4")[0] == 200
        assert await pool.fetchval("SELECT failures FROM login_throttle WHERE key = $1", account) == 0
        assert await pool.fetchval("SELECT failures FROM login_throttle WHERE key = 'ip:127.0.0.4'") == 2

    succeeded = [
        event
        for event, _ in await login_events(stack, user_id=super_admin["id"])
        if event.type.endswith("login_succeeded")
    ]
    assert succeeded and succeeded[-1].resource_id == super_admin["id"]
    assert succeeded[-1].actor_user_id == super_admin["id"]


# -- signing keys ---------------------------------------------------------------------------------


def key_ring(stack) -> KeyRing:
    return identity_secrets(stack).key_ring()


async def test_signing_keys_are_encrypted_at_rest(stack, super_admin):
    kid = unverified(signed_in(stack)["access_token"])[0]["kid"]
    async with admin_database(stack) as pool:
        row = await pool.fetchrow("SELECT * FROM signing_keys WHERE kid = $1", kid)
    stored = bytes(row["private_key_encrypted"])
    ring = key_ring(stack)

    assert b"PRIVATE KEY" not in stored and not stored.startswith(b"\x30")  # neither PEM nor DER
    assert (
        row["master_key_id"] == ring.current_key_id == master_key_id(identity_secrets(stack).sealing_keys[0])
    )
    pkcs8 = decrypt(
        stored, key_ring=ring, associated_data=b"identity.signing_keys.private_key_encrypted:" + kid.encode()
    )
    private = ECKey.import_key(pkcs8)
    assert private.thumbprint() == kid
    assert private.as_dict(private=False)["x"] == json.loads(row["public_jwk"])["x"]
    scalar = private.private_key.private_numbers().private_value.to_bytes(32, "big")
    assert pkcs8 not in stored and scalar not in stored


async def test_after_a_rotation_tokens_of_the_previous_key_verify_until_they_expire(stack, super_admin):
    before = signed_in(stack)["access_token"]
    old_kid = unverified(before)[0]["kid"]
    async with admin_database(stack) as pool:
        new_kid = await tokens.TokenIssuer(stack_settings(stack), key_ring(stack)).rotate(pool)
        # Published at once; the old key signs on until verifiers' cached key sets know the new one.
        assert {old_kid, new_kid} <= {key["kid"] for key in jwks(stack)["keys"]}
        assert unverified(signed_in(stack)["access_token"])[0]["kid"] == old_kid
        old_key = await pool.fetchrow(
            "SELECT retired_at, expires_at FROM signing_keys WHERE kid = $1", old_kid
        )
        assert old_key["retired_at"] - utcnow() <= tokens.VERIFIER_CACHE_ALLOWANCE
        # That allowance, passed: the old key retires now, and stays published as long as before.
        await pool.execute(
            "UPDATE signing_keys SET retired_at = now(), expires_at = now() + $2::interval WHERE kid = $1",
            old_kid,
            old_key["expires_at"] - old_key["retired_at"],
        )

    after = signed_in(stack)["access_token"]
    assert unverified(after)[0]["kid"] == new_kid != old_kid
    document = jwks(stack)
    assert {old_kid, new_kid} <= {key["kid"] for key in document["keys"]}
    assert verify(before, document)["jti"] and verify(after, document)["jti"]
    # The old key leaves the JWKS only once the last token it signed has expired...
    lifetime = old_key["expires_at"] - old_key["retired_at"]
    assert lifetime == datetime.timedelta(seconds=TTL_SECONDS) + tokens.CLOCK_LEEWAY
    # ...and then it does.
    async with admin_database(stack) as pool:
        await pool.execute("UPDATE signing_keys SET expires_at = now() WHERE kid = $1", old_kid)
    remaining = {key["kid"] for key in jwks(stack)["keys"]}
    assert old_kid not in remaining and new_kid in remaining
