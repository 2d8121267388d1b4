"""The whole platform for tests that need it: `python -m dockyard_kit.stack` on ports it chooses,
once per test module, with each service's own address (from the stack's state file) known so tests
can also call a service directly over gRPC (bypassing the gateway). A pytest plugin
(tests/conftest.py), so every test package has it."""

import sys

import grpc
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.stack_process import StackProcess


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra environment for the module's platform; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_env):
    process = StackProcess(
        tmp_path_factory.mktemp("stack"),
        argv=[sys.executable, "-m", "dockyard_kit.stack"],
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}", **stack_env},
    )
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
