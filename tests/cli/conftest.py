"""The CLI tests' platform and callers: quick deployments, a super_admin and a developer, and a
`dockyard` for nobody, for the developer and for the super_admin (tests/cli/support.py drives it)."""

import pytest

from tests.cli.support import Cli
from tests.support.accounts import PASSWORD, Account, create_account, login, setup_admin


@pytest.fixture(scope="module")
def stack_env():
    """Quick deployments: a short rollout monitor and lease (as the deployer's tests use)."""
    return {"DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1", "DOCKYARD_DEPLOY_LEASE_SECONDS": "3"}


@pytest.fixture(scope="module")
def admin(identity_channel) -> Account:
    """The platform's first super_admin."""
    return Account(setup_admin(identity_channel, "root"), login(identity_channel, "root"))


@pytest.fixture(scope="module")
def developer(identity_channel, admin) -> Account:
    return create_account(identity_channel, admin, "dev1", "developer")


@pytest.fixture
def cli(stack, tmp_path) -> Cli:
    """A fresh `dockyard` with nobody signed in."""
    return Cli(f"127.0.0.1:{stack.port}", tmp_path / "config")


@pytest.fixture(scope="module")
def dev_cli(stack, developer, tmp_path_factory) -> Cli:
    """`dockyard` signed in as the developer (by `dockyard login`, the password on stdin)."""
    cli = Cli(f"127.0.0.1:{stack.port}", tmp_path_factory.mktemp("dev-config"))
    result = cli("login", "dev1", "--password-stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result
    return cli


@pytest.fixture(scope="module")
def admin_cli(stack, admin, tmp_path_factory) -> Cli:
    """`dockyard` signed in as the super_admin."""
    cli = Cli(f"127.0.0.1:{stack.port}", tmp_path_factory.mktemp("admin-config"))
    result = cli("login", "root", "--password-stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result
    return cli
