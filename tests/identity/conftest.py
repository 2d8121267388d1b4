"""The whole platform for identity tests: `python -m dockyard_kit.stack` on free ports, once per
test module, with the identity service's own address known so tests can also call it directly
over gRPC (bypassing the gateway)."""

import sys

import grpc
import pytest

from dockyard_kit import db, migrations
from dockyard_kit.config import SERVICES
from dockyard_kit.stack.components import free_port
from tests.conftest import REPO_ROOT
from tests.identity.accounts import People
from tests.support.stack_process import StackProcess


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    addresses = {f"DOCKYARD_{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES}
    process = StackProcess(
        tmp_path_factory.mktemp("stack"),
        argv=[sys.executable, "-m", "dockyard_kit.stack"],
        env={**addresses, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}"},
    )
    process.addresses = {name: addresses[f"DOCKYARD_{name.upper()}_ADDR"] for name in SERVICES}
    process.wait_running()
    yield process
    assert process.interrupt(), process.output()[-3000:]


@pytest.fixture(scope="module")
def gateway_channel(stack):
    """gRPC through Envoy."""
    with grpc.insecure_channel(f"127.0.0.1:{stack.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def identity_channel(stack):
    """gRPC straight to the identity service, bypassing the gateway."""
    with grpc.insecure_channel(stack.addresses["identity"]) as channel:
        yield channel


@pytest.fixture(scope="module")
def people(identity_channel) -> People:
    """Every kind of caller (tests/identity/accounts.py), signed in to this module's platform."""
    return People(identity_channel)


@pytest.fixture
async def identity_pool(settings):
    """The identity schema at head in the test's own database, and a pool as identity's role."""
    await db.bootstrap_service_role(settings, "identity")
    await migrations.upgrade_to_head(settings, "identity", REPO_ROOT / "services" / "identity" / "migrations")
    pool = await db.create_pool(settings, "identity")
    yield pool
    await pool.close()
