"""Bytes that do not parse as the method's request message are bad input (INVALID_ARGUMENT, as the
kit's interceptor answers them), not gRPC's UNKNOWN: Envoy's transcoder writes such bytes for some
bad JSON, e.g. an object as the value of a map of strings."""

import grpc
import pytest

from dockyard.identity.v1 import identity_pb2
from dockyard_kit.auth import Authenticator
from dockyard_kit.interceptors import ServerInterceptor

SETUP = "/dockyard.identity.v1.AuthService/Setup"  # public: no token needed


@pytest.fixture
async def setup_method():
    """AuthService/Setup behind the kit's interceptor, echoing the username it was given."""

    async def setup(request: identity_pb2.SetupRequest, context) -> identity_pb2.User:
        return identity_pb2.User(username=request.username)

    handler = grpc.unary_unary_rpc_method_handler(
        setup,
        request_deserializer=identity_pb2.SetupRequest.FromString,
        response_serializer=identity_pb2.User.SerializeToString,
    )
    # Public methods never consult the verifier or the deny list unless a token comes along.
    server = grpc.aio.server(
        interceptors=[ServerInterceptor("test", lambda: None, Authenticator(None, None))]
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("dockyard.identity.v1.AuthService", {"Setup": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel.unary_unary(SETUP, response_deserializer=identity_pb2.User.FromString)
    await server.stop(None)


async def test_a_request_that_does_not_parse_is_invalid_argument(setup_method):
    parsed = await setup_method(identity_pb2.SetupRequest(username="ada").SerializeToString(), timeout=5)
    assert parsed.username == "ada"

    # Field 1 (username) announced as 5 bytes long, with 2 to follow.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await setup_method(b"\x0a\x05ab", timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in refused.value.details()
