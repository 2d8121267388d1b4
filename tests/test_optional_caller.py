"""A public method answers anyone, and sees its caller only when a valid access token comes along
(Authenticator.optional_caller, run by the kit's interceptor): a token that does not verify, or
whose user is revoked, or that cannot be checked right now, makes the caller anonymous, never a
refusal."""

import json

import grpc
import pytest

from dockyard_kit import errors
from dockyard_kit.auth import REVOKED_USER, AccessTokenVerifier, Authenticator, Caller, current_caller
from dockyard_kit.interceptors import ServerInterceptor
from dockyard_kit.jwks import parse_key_set
from tests.support.tokens import AUDIENCE, ISSUER, Signer, valid_claims, with_flipped_signature

SIGNER = Signer()
PUBLIC = "/dockyard.identity.v1.AuthService/GetJwks"


class Keys:
    def __init__(self) -> None:
        self.keys = parse_key_set(json.dumps({"keys": [SIGNER.public_jwk()]}).encode())

    async def key(self, kid: str):
        return self.keys.get(kid)


class DenyList:
    def __init__(self) -> None:
        self.user_ids: set[str] = set()
        self.known = True

    def refusal(self, caller: Caller) -> str | None:
        if not self.known:
            raise errors.Unavailable("cannot check the account's status right now; retry shortly")
        return REVOKED_USER if caller.user_id in self.user_ids else None


@pytest.fixture
async def public_method():
    """AuthService/GetJwks as a raw handler that answers with its caller's user id ("" for none)."""

    async def who(request: bytes, context) -> bytes:
        caller = current_caller.get()
        return b"" if caller is None else caller.user_id.encode()

    deny_list = DenyList()
    verifier = AccessTokenVerifier(Keys(), issuer=ISSUER, audience=AUDIENCE)
    server = grpc.aio.server(
        interceptors=[ServerInterceptor("test", lambda: None, Authenticator(verifier, deny_list))]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "dockyard.identity.v1.AuthService", {"GetJwks": grpc.unary_unary_rpc_method_handler(who)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:

        async def call(token: str | None = None) -> bytes:
            metadata = (("authorization", f"Bearer {token}"),) if token else ()
            return await channel.unary_unary(PUBLIC)(b"", metadata=metadata, timeout=5)

        yield call, deny_list
    await server.stop(None)


async def test_a_valid_token_on_a_public_method_gives_its_caller(public_method):
    call, _ = public_method
    claims = valid_claims(role="admin")
    assert await call(SIGNER.sign(claims)) == claims["sub"].encode()
    assert await call() == b""


async def test_a_bad_revoked_or_uncheckable_token_makes_the_caller_anonymous_not_refused(public_method):
    call, deny_list = public_method
    claims = valid_claims(role="admin")
    token = SIGNER.sign(claims)
    assert await call("garbage") == b""
    assert await call(with_flipped_signature(token)) == b""
    deny_list.user_ids.add(claims["sub"])
    assert await call(token) == b""
    deny_list.user_ids.clear()
    deny_list.known = False
    assert await call(token) == b""
