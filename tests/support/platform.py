"""The whole platform for tests that need it: `python -m dockyard_kit.stack` on free ports, once per
test module, with each service's own address known so tests can also call a service directly over
gRPC (bypassing the gateway). A pytest plugin (tests/conftest.py), so every test package has it."""

import pathlib
import sys

import grpc
import pytest

from dockyard_kit.config import SERVICES
from dockyard_kit.stack.components import free_port
from tests.support.stack_process import StackProcess

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra environment for the module's platform; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_env):
    addresses = {f"DOCKYARD_{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES}
    process = StackProcess(
        tmp_path_factory.mktemp("stack"),
        argv=[sys.executable, "-m", "dockyard_kit.stack"],
        env={**addresses, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}", **stack_env},
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
def projects_channel(stack):
    """gRPC straight to the projects service, bypassing the gateway."""
    with grpc.insecure_channel(stack.addresses["projects"]) as channel:
        yield channel
