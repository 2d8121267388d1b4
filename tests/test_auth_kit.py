"""The kit's authentication on its own: token verification against a local key set, the JWKS cache,
the deny-list (against real PostgreSQL) and the interceptor step in a real grpc.aio server."""

import json
import time
import uuid

import grpc
import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1.events_pb2 import ApiTokenChanged, SessionRevoked, UserChanged, UserSessionsRevoked
from dockyard_kit import db, errors, migrations
from dockyard_kit.auth import (
    API_TOKEN_REVOKED,
    EXPIRED_TOKEN,
    MISSING_TOKEN,
    REVOKED_USER,
    SESSION_ENDED,
    Authenticator,
    Caller,
    InvalidToken,
    bearer_token,
    contract_requires_token,
    require_caller,
)
from dockyard_kit.events import new_event
from dockyard_kit.interceptors import ServerInterceptor
from dockyard_kit.jwks import JwksCache, JwksUnavailable, parse_key_set
from dockyard_kit.revocations import (
    DENY_LIST_TOKEN_SOURCES,
    DENY_LIST_USERS,
    FORGET_AFTER,
    SUBJECTS,
    DenyList,
    apply_revocation_event,
)
from services.projects.__main__ import SPEC as PROJECTS
from tests.support.tokens import (
    AUDIENCE,
    SIGNER,
    Clock,
    Signer,
    StaticKeys,
    UnreachableKeys,
    hmac_signed,
    unsigned,
    valid_claims,
    verifier,
    with_claims,
    with_flipped_signature,
)


async def refused(token: str, keys=None, **options) -> InvalidToken:
    with pytest.raises(InvalidToken) as raised:
        await verifier(keys, **options).verify(token)
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED
    return raised.value


# -- AccessTokenVerifier ---------------------------------------------------------------------------


async def test_a_good_token_gives_its_caller():
    project = str(uuid.uuid4())
    claims = valid_claims(role="viewer", scope="read_only", projects=[project], api_token_id="api-7")

    caller = await verifier().verify(SIGNER.sign(claims))

    assert caller.user_id == claims["sub"]
    assert (caller.role, caller.scope, caller.project_ids) == ("viewer", "read_only", frozenset({project}))
    assert (caller.token_id, caller.api_token_id) == (claims["jti"], "api-7")
    assert (caller.session_id, caller.issued_at) == ("", claims["iat"])
    assert caller.read_only and caller.project_limited and caller.via_api_token

    session = str(uuid.uuid4())
    assert (await verifier().verify(SIGNER.sign(valid_claims(sid=session)))).session_id == session


async def test_expired_tokens_are_refused_after_the_leeway_only():
    now = time.time()
    clock = Clock(now)
    token = SIGNER.token(iat=int(now) - 300, exp=int(now) - 3)
    assert (await verifier(clock=clock, leeway=5).verify(token)).role == "developer"

    clock.now = now + 3
    error = await refused(token, clock=clock, leeway=5)
    assert (error.reason, error.message) == ("expired", EXPIRED_TOKEN)


async def test_tampered_tokens_are_refused():
    token = SIGNER.token()
    assert (await refused(with_claims(token, role="super_admin"))).reason == "bad signature"
    assert (await refused(with_flipped_signature(token))).reason == "bad signature"
    # Signed by someone else under identity's kid.
    assert (await refused(Signer(kid=SIGNER.kid).token())).reason == "bad signature"


async def test_alg_none_and_hmac_are_refused_before_any_key_is_looked_up():
    keys = StaticKeys(SIGNER)
    public_x = SIGNER.public_jwk()["x"].encode()
    for token in (unsigned(valid_claims(), SIGNER.kid), hmac_signed(valid_claims(), SIGNER.kid, public_x)):
        error = await refused(token, keys)
        assert error.reason.startswith("algorithm") and error.message == "the access token is not valid"
    assert keys.asked == []


async def test_wrong_audience_issuer_and_unknown_kid_are_refused():
    assert (await refused(SIGNER.token(aud="someone-else"))).reason == "wrong audience"
    assert (await refused(SIGNER.token(aud=["someone-else", "another"]))).reason == "wrong audience"
    assert (await refused(SIGNER.token(iss="https://evil.example"))).reason == "wrong issuer"
    assert (await refused(Signer().token())).reason == "unknown kid"
    # A list audience naming us is fine.
    assert (await verifier().verify(SIGNER.token(aud=["other", AUDIENCE]))).role == "developer"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # Claims as functions of the time the test runs (collection may be minutes earlier).
        (lambda now: {"sub": "root"}, "sub is not a UUID"),
        (lambda now: {"sub": None}, "sub is not a UUID"),
        (lambda now: {"role": "owner"}, "unknown role"),
        (lambda now: {"scope": "admin"}, "unknown scope"),
        (lambda now: {"projects": "all"}, "projects is not a list"),
        (lambda now: {"projects": ["not-a-project-id"]}, "projects is not a UUID"),
        (lambda now: {"jti": None}, "jti, sid or api_token_id malformed"),
        (lambda now: {"sid": 7}, "jti, sid or api_token_id malformed"),
        (lambda now: {"api_token_id": ["a"]}, "jti, sid or api_token_id malformed"),
        (lambda now: {"exp": None}, "exp is not a NumericDate"),
        (lambda now: {"exp": True}, "exp is not a NumericDate"),
        (lambda now: {"iat": "yesterday"}, "iat is not a NumericDate"),
        (lambda now: {"iat": now + 120, "exp": now + 400}, "not valid yet"),
        (lambda now: {"nbf": now + 120}, "not valid yet"),
        (lambda now: {"exp": now + 2 * 86400}, "lifetime out of bounds"),
    ],
)
async def test_claims_outside_the_contract_are_refused(overrides, reason):
    assert (await refused(SIGNER.token(**overrides(int(time.time()))))).reason == reason


async def test_malformed_tokens_and_headers_are_refused():
    good = SIGNER.token()
    assert (await refused("not-a-jwt")).reason == "not a compact JWS"
    assert (await refused("!!!." + good.split(".", 1)[1])).reason in ("not base64url", "header is not JSON")
    assert (await refused(SIGNER.sign(valid_claims(), kid=""))).reason == "no kid"
    assert (await refused(SIGNER.sign(valid_claims(), typ="at+jwt"))).reason == "not a JWT"
    assert (await refused(SIGNER.sign(valid_claims(), crit=["kid"]))).reason == "header extensions refused"
    assert (await refused(good + "x" * 9000)).reason == "token too long"


async def test_when_no_keys_can_be_had_a_good_token_is_unavailable_not_unauthenticated():
    with pytest.raises(errors.Unavailable):
        await verifier(UnreachableKeys()).verify(SIGNER.token())


# -- JwksCache -------------------------------------------------------------------------------------


class FakeIdentity:
    """A JWKS endpoint whose keys and availability the test changes; counts fetches."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.up = True
        self.fetches = 0

    async def __call__(self) -> bytes:
        self.fetches += 1
        if not self.up:
            raise OSError("connection refused")
        return json.dumps({"keys": [s.public_jwk() for s in self.signers]}).encode()


async def test_unknown_kids_refetch_at_most_once_per_interval():
    identity, clock = FakeIdentity(SIGNER), Clock()
    cache = JwksCache(identity, max_age=60, min_refetch_interval=2, clock=clock)
    assert await cache.key(SIGNER.kid) is not None
    assert identity.fetches == 1

    clock.now += 2
    for _ in range(50):
        assert await cache.key(f"garbage-{uuid.uuid4()}") is None
    assert identity.fetches == 2  # one refetch for the first garbage kid, none for the other 49

    clock.now += 2
    assert await cache.key("garbage-again") is None
    assert identity.fetches == 3


async def test_a_rotated_key_is_found_by_refetching():
    rotated = Signer()
    identity, clock = FakeIdentity(SIGNER), Clock()
    cache = JwksCache(identity, min_refetch_interval=2, clock=clock)
    keys = verifier(cache)
    await keys.verify(SIGNER.token())
    clock.now += 2
    identity.signers.append(rotated)

    assert (await keys.verify(rotated.token())).role == "developer"
    assert identity.fetches == 2


async def test_keys_are_refreshed_periodically_and_kept_when_identity_is_down():
    identity, clock = FakeIdentity(SIGNER), Clock()
    cache = JwksCache(identity, max_age=60, min_refetch_interval=2, clock=clock)
    await cache.key(SIGNER.kid)

    clock.now += 61
    identity.up = False
    assert await cache.key(SIGNER.kid) is not None  # still held
    assert identity.fetches == 2
    # A kid it cannot settle while identity is down: unavailable, not "invalid".
    clock.now += 2
    with pytest.raises(JwksUnavailable):
        await cache.key(Signer().kid)

    identity.up, identity.signers = True, [Signer()]
    clock.now += 61
    assert await cache.key(SIGNER.kid) is None  # no longer published, no longer trusted


async def test_no_keys_at_all_is_unavailable_and_retried_at_the_interval_only():
    identity, clock = FakeIdentity(SIGNER), Clock()
    identity.up = False
    cache = JwksCache(identity, min_refetch_interval=2, clock=clock)
    for _ in range(10):
        with pytest.raises(JwksUnavailable):
            await cache.key(SIGNER.kid)
    assert identity.fetches == 1

    identity.up = True
    clock.now += 2
    assert await cache.key(SIGNER.kid) is not None


def test_only_p256_signing_keys_are_taken_and_only_their_public_part():
    private = SIGNER.key.as_dict(private=True)
    document = {
        "keys": [
            {**private, "kid": "with-private-part"},
            {**SIGNER.public_jwk(), "kid": "for-encryption", "use": "enc"},
            {**SIGNER.public_jwk(), "kid": "rs", "alg": "RS256"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kid": "broken", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            "not-a-key",
        ]
    }
    keys = parse_key_set(json.dumps(document).encode())

    assert set(keys) == {"with-private-part"}
    assert "d" not in keys["with-private-part"].as_dict(private=False)
    assert not keys["with-private-part"].is_private
    with pytest.raises(ValueError):
        parse_key_set(b'{"no": "keys"}')


# -- which RPCs need a token; the authorization header ---------------------------------------------


def test_the_contract_decides_which_methods_need_a_token():
    assert not contract_requires_token("/dockyard.identity.v1.AuthService/Login")
    assert not contract_requires_token("/dockyard.identity.v1.AuthService/GetJwks")
    assert not contract_requires_token("/dockyard.system.v1.SystemService/GetSystemStatus")
    assert not contract_requires_token("/dockyard.system.v1.ComponentService/GetComponentStatus")  # internal
    assert not contract_requires_token("/grpc.health.v1.Health/Check")
    assert not contract_requires_token("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert contract_requires_token("/dockyard.identity.v1.UserService/GetCurrentUser")
    assert contract_requires_token("/dockyard.identity.v1.UserService/DisableUser")
    # Not described by the contract: closed.
    assert contract_requires_token("/dockyard.identity.v1.AuthService/NoSuchMethod")
    assert contract_requires_token("/dockyard.testing.v1.Anything/Goes")


def test_the_bearer_token_is_read_from_exactly_one_authorization_entry():
    assert bearer_token([("authorization", "Bearer abc.def.ghi")]) == "abc.def.ghi"
    assert bearer_token([("x-request-id", "1"), ("authorization", "bearer  abc ")]) == "abc"
    for metadata in ([], [("authorization", "Basic dXNlcjpwYXNz")], [("authorization", "Bearer ")]):
        with pytest.raises(InvalidToken) as raised:
            bearer_token(metadata)
        assert raised.value.message == MISSING_TOKEN
    with pytest.raises(InvalidToken):
        bearer_token([("authorization", "Bearer a"), ("authorization", "Bearer b")])


# -- the interceptor step, in a real gRPC server ---------------------------------------------------


class RefusedUsers:
    """A deny-list of users only, which may not know."""

    def __init__(self) -> None:
        self.user_ids: set[str] = set()
        self.known = True

    def refusal(self, caller: Caller) -> str | None:
        if not self.known:
            raise errors.Unavailable("cannot check the account's status right now; retry shortly")
        return REVOKED_USER if caller.user_id in self.user_ids else None


@pytest.fixture
async def served():
    """UserService/GetCurrentUser (needs a token) and AuthService/GetJwks (public) as raw-bytes
    handlers that answer with the caller's user id, behind the kit's interceptor."""

    async def whoami(request: bytes, context) -> bytes:
        return require_caller().user_id.encode()

    async def anonymous(request: bytes, context) -> bytes:
        from dockyard_kit.auth import current_caller

        return b"nobody" if current_caller.get() is None else b"somebody"

    deny_list = RefusedUsers()
    keys = StaticKeys(SIGNER)
    authenticator = Authenticator(verifier(keys), deny_list)
    server = grpc.aio.server(interceptors=[ServerInterceptor("test", lambda: None, authenticator)])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "dockyard.identity.v1.UserService",
                {"GetCurrentUser": grpc.unary_unary_rpc_method_handler(whoami)},
            ),
            grpc.method_handlers_generic_handler(
                "dockyard.identity.v1.AuthService",
                {"GetJwks": grpc.unary_unary_rpc_method_handler(anonymous)},
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, deny_list, authenticator
    await server.stop(None)


async def call(channel, method: str, token: str | None = None) -> bytes:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    return await channel.unary_unary(method)(b"", metadata=metadata, timeout=5)


async def status_of(channel, method: str, token: str | None = None) -> tuple[grpc.StatusCode, str]:
    try:
        await call(channel, method, token)
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


async def test_the_interceptor_puts_the_verified_caller_in_the_context(served):
    channel, _, _ = served
    me = "/dockyard.identity.v1.UserService/GetCurrentUser"
    claims = valid_claims()

    assert await call(channel, me, SIGNER.sign(claims)) == claims["sub"].encode()
    assert await status_of(channel, me) == (grpc.StatusCode.UNAUTHENTICATED, MISSING_TOKEN)
    assert await status_of(channel, me, with_flipped_signature(SIGNER.token())) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "the access token is not valid",
    )
    # Public methods run without a caller, whatever the metadata says.
    jwks = "/dockyard.identity.v1.AuthService/GetJwks"
    assert await call(channel, jwks) == b"nobody"
    assert await call(channel, jwks, "garbage") == b"nobody"


async def test_a_revoked_caller_is_refused_and_an_unknown_deny_list_is_unavailable(served):
    channel, deny_list, _ = served
    me = "/dockyard.identity.v1.UserService/GetCurrentUser"
    claims = valid_claims()
    token = SIGNER.sign(claims)

    deny_list.user_ids.add(claims["sub"])
    assert await status_of(channel, me, token) == (grpc.StatusCode.UNAUTHENTICATED, REVOKED_USER)
    deny_list.user_ids.clear()
    deny_list.known = False
    assert (await status_of(channel, me, token))[0] == grpc.StatusCode.UNAVAILABLE


async def test_keys_that_cannot_be_fetched_make_the_call_unavailable(served):
    channel, _, authenticator = served
    authenticator.verifier.keys = UnreachableKeys()
    try:
        code, _ = await status_of(channel, "/dockyard.identity.v1.UserService/GetCurrentUser", SIGNER.token())
    finally:
        authenticator.verifier.keys = StaticKeys(SIGNER)
    assert code == grpc.StatusCode.UNAVAILABLE


# -- the deny-list, against real PostgreSQL -------------------------------------------------------


@pytest.fixture
async def projects_pool(settings):
    """The projects schema at head (so with its deny-list tables), and a pool as its role."""
    await db.bootstrap_service_role(settings, "projects")
    await migrations.upgrade_to_head(settings, "projects", PROJECTS.migrations_dir)
    pool = await db.create_pool(settings, "projects")
    yield pool
    await pool.close()


def user_event(verb: str, user_id: str) -> Event:
    return new_event("identity", "user", verb, user_id, UserChanged())


async def apply(pool, verb: str, user_id: str) -> None:
    await apply_event(pool, user_event(verb, user_id))


async def apply_event(pool, event: Event) -> None:
    async with db.transaction(pool) as conn:
        await apply_revocation_event(conn, event)


async def test_the_deny_list_follows_identity_events(projects_pool):
    assert SUBJECTS == [
        "dockyard.identity.user.disabled",
        "dockyard.identity.user.enabled",
        "dockyard.identity.user.deleted",
        "dockyard.identity.session.revoked",
        "dockyard.identity.user.sessions_revoked",
        "dockyard.identity.api_token.revoked",
    ]
    disabled, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    clock = Clock()
    deny_list = DenyList(lambda: projects_pool, stale_after=1.5, clock=clock)

    def is_revoked(user_id: str) -> bool:
        return deny_list.refusal(Caller(user_id=user_id, role="developer")) is not None

    with pytest.raises(errors.Unavailable):
        is_revoked(disabled)  # never loaded: nobody is let in on its word

    await apply(projects_pool, "disabled", disabled)
    await apply(projects_pool, "deleted", deleted)
    await apply(projects_pool, "disabled", disabled)  # twice is once
    await deny_list.reload()
    assert is_revoked(disabled) and is_revoked(deleted)
    assert not is_revoked(str(uuid.uuid4()))
    assert DENY_LIST_USERS._value.get() == 2  # what the process's metrics report

    await apply(projects_pool, "enabled", disabled)
    await apply(projects_pool, "enabled", deleted)  # a deleted user is never re-enabled
    await apply(projects_pool, "disabled", deleted)
    await deny_list.reload()
    assert not is_revoked(disabled)
    assert is_revoked(deleted)
    async with projects_pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT reason FROM revoked_users WHERE user_id = $1", uuid.UUID(deleted)
        ) == ("deleted")

    clock.now += 1.6
    with pytest.raises(errors.Unavailable):
        is_revoked(deleted)  # stale: it may be missing a revocation

    with pytest.raises(ValueError):
        await apply(projects_pool, "created", disabled)


async def test_the_deny_list_refuses_ended_sessions_revoked_api_tokens_and_tokens_before_a_password_change(
    projects_pool,
):
    user, other = str(uuid.uuid4()), str(uuid.uuid4())
    ended, open_session, same_second, api_token = (str(uuid.uuid4()) for _ in range(4))
    changed_at = 1_800_000_000
    deny_list = DenyList(lambda: projects_pool)

    def refusal(**claims) -> str | None:
        return deny_list.refusal(
            Caller(**{"user_id": user, "role": "developer", "issued_at": changed_at, **claims})
        )

    await apply_event(
        projects_pool, new_event("identity", "session", "revoked", ended, SessionRevoked(user_id=user))
    )
    await apply_event(
        projects_pool,
        new_event("identity", "api_token", "revoked", api_token, ApiTokenChanged(user_id=user)),
    )
    password_changed = UserSessionsRevoked(session_ids=[same_second], reason="password_changed")
    password_changed.not_before.FromSeconds(changed_at)
    await apply_event(
        projects_pool, new_event("identity", "user", "sessions_revoked", user, password_changed)
    )
    await apply_event(
        projects_pool, new_event("identity", "user", "sessions_revoked", user, password_changed)
    )
    await deny_list.reload()

    assert refusal(session_id=ended) == SESSION_ENDED
    # The old password's session of the change's own second, by its id; a new one of it is good.
    assert refusal(session_id=same_second) == SESSION_ENDED
    assert refusal(session_id=open_session) is None
    # Any session token of the user from before that second, also without a session id.
    assert refusal(session_id=open_session, issued_at=changed_at - 1) == SESSION_ENDED
    assert refusal(issued_at=changed_at - 1) == SESSION_ENDED
    assert deny_list.refusal(Caller(user_id=other, role="developer", issued_at=changed_at - 1)) is None
    # A token exchanged for an API token answers to that API token alone.
    assert refusal(api_token_id=api_token) == API_TOKEN_REVOKED
    assert refusal(api_token_id=str(uuid.uuid4()), issued_at=changed_at - 1) is None
    assert DENY_LIST_TOKEN_SOURCES._value.get() == 3

    # Once every token they can concern has expired, the rows are forgotten at the next revocation.
    async with projects_pool.acquire() as conn:
        await conn.execute(
            "UPDATE revoked_token_sources SET revoked_at = revoked_at - $1::interval", FORGET_AFTER
        )
        await conn.execute(
            "UPDATE session_not_before SET recorded_at = recorded_at - $1::interval", FORGET_AFTER
        )
    later = UserSessionsRevoked(session_ids=[open_session], reason="password_changed")
    later.not_before.FromSeconds(changed_at - 10)
    await apply_event(projects_pool, new_event("identity", "user", "sessions_revoked", other, later))
    await deny_list.reload()
    assert refusal(session_id=ended) is None and refusal(api_token_id=api_token) is None
    assert refusal(issued_at=changed_at - 1) is None
    assert refusal(session_id=open_session) == SESSION_ENDED

    with pytest.raises(ValueError):
        # A sessions_revoked event must say which sessions and since when.
        await apply_event(
            projects_pool, new_event("identity", "user", "sessions_revoked", user, UserChanged())
        )
