"""Driving `dockyard` against the module's platform: in-process through Typer's test runner (the
`cli` fixture), or as a subprocess of the installed entry point, each with its own config
directory, so tokens never leak between callers."""

import dataclasses
import os
import pathlib
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dockyard_cli.main import app
from tests.support.accounts import PASSWORD, Account, create_account, login, setup_admin


@pytest.fixture(scope="module")
def stack_env():
    """Quick deployments: a short rollout monitor and lease (as the deployer's tests use)."""
    return {"DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1", "DOCKYARD_DEPLOY_LEASE_SECONDS": "3"}


@dataclasses.dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class Cli:
    """`dockyard` with its config under `config_home` and the module's gateway as its server."""

    def __init__(self, server: str, config_home: pathlib.Path, env: dict[str, str] | None = None) -> None:
        self.server = server
        self.config_home = config_home
        self.env = {
            "XDG_CONFIG_HOME": str(config_home),
            "DOCKYARD_SERVER": server,
            "DOCKYARD_TOKEN": "",
            **(env or {}),
        }

    @property
    def credentials(self) -> pathlib.Path:
        return self.config_home / "dockyard" / "credentials.json"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env=self.env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def environment(self) -> dict[str, str]:
        """For a subprocess: no PYTHONPATH, so the installed entry point must find its packages."""
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        return {**env, **{key: value for key, value in self.env.items() if value}}

    def spawn(self, *args: str, cwd: pathlib.Path) -> subprocess.Popen:
        return subprocess.Popen(
            [str(entry_point()), *args], cwd=cwd, env=self.environment(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip


def entry_point() -> pathlib.Path:
    """The `dockyard` script `pip install -e .` put beside the interpreter."""
    return pathlib.Path(sys.executable).with_name("dockyard")


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
