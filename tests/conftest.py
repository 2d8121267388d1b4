"""Fixtures that start real infrastructure: PostgreSQL and NATS from the same components `make run`
uses, each on a free loopback port inside the test's temporary directory."""

import os
import pathlib
import secrets

import pytest

from dockyard_kit.config import Settings
from dockyard_kit.stack.components import Nats, Postgres, free_port
from tests.support.paths import REPO_ROOT
from tests.support.processes import bootstrap_services

pytest_plugins = ["tests.docker_support", "tests.support.platform", "tests.support.service_fixtures"]


def _quiet(name: str, line: str) -> None:
    """Infrastructure output is kept out of test output unless a test fails (pytest captures it)."""
    print(f"{name} | {line}")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Postgres:
    server = Postgres(tmp_path_factory.mktemp("pg"), free_port(), sink=_quiet)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_server(tmp_path) -> Nats:
    """A NATS server of the test's own, so a test may stop and restart it."""
    server = Nats(tmp_path, free_port(), sink=_quiet)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secret_key_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("secrets") / "secret.key"
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    return path


@pytest.fixture
def database_name(postgres) -> str:
    """A fresh, empty database for one test, so schemas and roles start from nothing."""
    import subprocess

    from dockyard_kit.stack.components import PG_BIN

    name = f"t_{secrets.token_hex(6)}"
    env = {**os.environ, "PGPASSWORD": postgres.password}
    subprocess.run(
        [str(PG_BIN / "createdb"), "-h", postgres.host, "-p", str(postgres.port), "-U", postgres.user_name, name],
        check=True, env=env,
    )  # fmt: skip
    return name


@pytest.fixture
def operator_env(postgres, secret_key_file, database_name) -> dict[str, str]:
    """An operator's environment against the test's database: the administrative login and the
    master secret, as the bootstrap step and the operator's tools (reencrypt, the event relay) get
    it. A service refuses it: start services with `service_envs`."""
    return {
        **os.environ,
        **postgres.client_environment(),
        "POSTGRES_DATABASE": database_name,
        "DOCKYARD_SECRET_KEY_FILE": str(secret_key_file),
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'gen'}",
    }


@pytest.fixture
def service_envs(operator_env, tmp_path) -> dict[str, dict[str, str]]:
    """service -> the environment its process starts with against the test's database, after the
    bootstrap step ran for it (every registered service, and the kit's probe)."""
    return bootstrap_services(operator_env, tmp_path / "service-secrets")


@pytest.fixture
def settings(operator_env) -> Settings:
    """The operator's settings (administrative login, master secret)."""
    return Settings(**{k: v for k, v in operator_env.items() if k in Settings.model_fields})
