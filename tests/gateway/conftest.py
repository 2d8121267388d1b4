"""One Envoy per test module, in front of one real gRPC backend serving as identity and audit;
projects and deployer point at ports where nothing listens."""

import asyncio

import pytest

from dockyard_kit.stack.components import free_port
from tests.gateway.support import GATEWAY_SECRET, MAX_REQUEST_BYTES, Backend, Gateway, build_descriptor_set


@pytest.fixture(scope="module")
def descriptor_set(tmp_path_factory):
    return build_descriptor_set(tmp_path_factory.mktemp("contract") / "dockyard.pb")


@pytest.fixture(scope="module")
async def backend(descriptor_set):
    server = Backend(descriptor_set)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def gateway(backend, descriptor_set, tmp_path_factory):
    gateway = Gateway(
        tmp_path_factory.mktemp("gateway"),
        descriptor_set=descriptor_set,
        service_addresses={
            "identity": backend.address,
            "projects": f"127.0.0.1:{free_port()}",
            "deployer": f"127.0.0.1:{free_port()}",
            "audit": backend.address,
            "notifications": f"127.0.0.1:{free_port()}",
        },
        max_request_bytes=MAX_REQUEST_BYTES,
        gateway_secret=GATEWAY_SECRET,
    )
    await gateway.start()
    await gateway.wait_health("identity", "healthy")
    await gateway.wait_health("audit", "healthy")
    # Envoy's first JWKS fetch, made before its own listener was up, is retried after a second. Until
    # then a request waits for a fetch of its own, which changes which filter answers first.
    await asyncio.wait_for(backend.auth.fetched.wait(), timeout=10)
    yield gateway
    await gateway.stop()
