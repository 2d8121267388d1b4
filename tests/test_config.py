"""Configuration: a bad value stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from dockyard_kit import registry
from dockyard_kit.config import MIN_SECRET_BYTES, ConfigError, Settings
from dockyard_kit.interceptors import client_address, from_the_gateway
from dockyard_kit.stack.__main__ import Stack
from services.deployer.settings import DeployerSettings
from services.identity.settings import IdentitySettings
from services.projects.settings import ProjectsSettings
from tests.support.paths import REPO_ROOT

SECRET = "0123456789abcdef" * 4


def start_with(
    env: dict[str, str], service: str = "projects", module: str | None = None
) -> subprocess.CompletedProcess:
    """`python -m services.<service>`, or `module` (the bootstrap step, which holds the master secret)."""
    return subprocess.run(
        [sys.executable, "-m", module or f"services.{service}"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POSTGRES_PORT", "not-a-port"),
        ("POSTGRES_PORT", "70000"),
        ("POSTGRES_SSL", "maybe"),
        ("NATS_URL", "http://example"),
        ("DOCKYARD_PROJECTS_ADDR", "no-port-here"),
        ("DOCKYARD_DB_POOL_MAX", "0"),
        ("POSTGRES_PASSWORD_FILE", "/nonexistent/password"),
        ("DOCKYARD_PREVIOUS_SECRET_KEYS_FILE", "/nonexistent/previous.keys"),
        ("DOCKYARD_STATS_REFRESH_SECONDS", "0"),
    ],
)
def test_bad_value_fails_start_naming_the_variable(variable, value, secret_key_file):
    result = start_with({"DOCKYARD_SECRET_KEY_FILE": str(secret_key_file), variable: value})
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("service", "variable", "value"),
    [
        ("identity", "DOCKYARD_ACCESS_TOKEN_TTL_SECONDS", "5"),
        ("identity", "DOCKYARD_REFRESH_TOKEN_TTL_SECONDS", "10"),
        ("projects", "DOCKYARD_STATS_REFRESH_SECONDS", "-1"),
    ],
)
def test_a_service_checks_its_own_settings(service, variable, value, secret_key_file):
    result = start_with({"DOCKYARD_SECRET_KEY_FILE": str(secret_key_file), variable: value}, service)
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_service_only_settings_are_not_shared():
    shared = set(Settings.model_fields)
    for own in (IdentitySettings, ProjectsSettings, DeployerSettings):
        assert shared < set(own.model_fields)
    for variable in ("DOCKYARD_ACCESS_TOKEN_TTL_SECONDS", "DOCKYARD_STATS_REFRESH_SECONDS", "DOCKER_HOST"):
        assert variable not in shared


def test_every_registered_service_has_an_address_setting():
    settings = Settings(DOCKYARD_SECRET_KEY=SECRET)
    for service in registry.SERVICES:
        assert settings.service_address(service.name) == f"127.0.0.1:{service.default_port}"


def test_missing_master_secret_is_named(tmp_path):
    result = start_with({"DOCKYARD_SERVICE_SECRETS_DIR": str(tmp_path)}, module="dockyard_kit.bootstrap")
    assert result.returncode == 2
    assert "DOCKYARD_SECRET_KEY" in result.stderr


def test_seed_defaults_for_the_pool():
    settings = Settings(DOCKYARD_SECRET_KEY=SECRET)
    assert settings.DOCKYARD_DB_POOL_MAX == 20
    assert settings.DOCKYARD_DB_POOL_IDLE_SECONDS == 30
    assert settings.DOCKYARD_DB_CONNECT_TIMEOUT == 2


def test_database_url_overrides_postgres_variables():
    settings = Settings(
        DOCKYARD_SECRET_KEY=SECRET, DATABASE_URL="postgresql://u:p%40ss@db.internal:6543/plat"
    )
    assert settings.admin_connection() == {
        "host": "db.internal",
        "port": 6543,
        "database": "plat",
        "user": "u",
        "password": "p@ss",
        "ssl": None,
    }


def test_role_passwords_differ_per_service_and_are_stable():
    settings = Settings(DOCKYARD_SECRET_KEY=SECRET)
    assert settings.service_role_password("identity") == Settings(
        DOCKYARD_SECRET_KEY=SECRET
    ).service_role_password("identity")
    assert settings.service_role_password("identity") != settings.service_role_password("projects")


# -- how strong a secret must be --------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["DOCKYARD_SECRET_KEY", "DOCKYARD_SECRET_KEY_FILE"])
def test_a_short_master_secret_is_refused_at_start_up(variable, tmp_path):
    short = "a" * (MIN_SECRET_BYTES - 1)
    if variable.endswith("_FILE"):
        (tmp_path / "short.key").write_text(short + "\n")
        short = str(tmp_path / "short.key")
    result = start_with(
        {variable: short, "DOCKYARD_SERVICE_SECRETS_DIR": str(tmp_path)}, module="dockyard_kit.bootstrap"
    )
    assert result.returncode == 2
    assert f"{variable}: the secret is {MIN_SECRET_BYTES - 1} bytes long" in result.stderr
    assert f"at least {MIN_SECRET_BYTES}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_master_secret_of_the_minimum_length_is_accepted():
    assert Settings(DOCKYARD_SECRET_KEY="a" * MIN_SECRET_BYTES).secret_key() == b"a" * MIN_SECRET_BYTES
    with pytest.raises(ConfigError, match="DOCKYARD_SECRET_KEY: the secret is 1 bytes long"):
        Settings(DOCKYARD_SECRET_KEY="k").secret_key()


def test_a_short_gateway_secret_is_refused_at_start_up(secret_key_file):
    result = start_with(
        {"DOCKYARD_SECRET_KEY_FILE": str(secret_key_file), "DOCKYARD_GATEWAY_SECRET": "short"}
    )
    assert result.returncode == 2
    assert "DOCKYARD_GATEWAY_SECRET: the secret is 5 bytes long" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_embedded_stack_generates_strong_secrets_readable_by_its_owner_only(tmp_path):
    stack = Stack(tmp_path, "127.0.0.1", 8080)
    path = stack.secret_key_file()
    assert path == tmp_path / "secret.key"
    first = path.read_text().strip()
    assert len(bytes.fromhex(first)) == 32 and len(first) >= MIN_SECRET_BYTES
    assert path.stat().st_mode & 0o777 == 0o600
    assert stack.secret_key_file().read_text().strip() == first  # kept across runs
    assert Settings(DOCKYARD_SECRET_KEY_FILE=path).secret_key() == first.encode()


# -- whose X-Forwarded-For is believed (end to end: tests/test_forwarded_for.py) ---------------------


def test_only_a_request_carrying_the_gateways_credential_has_its_forwarded_for_believed():
    gateway_secret = SECRET.encode()
    forged = "203.0.113.9, 198.51.100.7"
    assert from_the_gateway(SECRET, gateway_secret)
    # A local process on the gateway's own address is not the gateway without its credential.
    for credential in ("", "f" * len(SECRET), SECRET[:-1]):
        assert not from_the_gateway(credential, gateway_secret)
    # Services without a configured credential believe nobody.
    assert not from_the_gateway("", b"")
    assert client_address(forged, "127.0.0.1", from_gateway=False) == "127.0.0.1"
    # Envoy sets the header to the one address it saw; only its last entry would ever be believed.
    assert client_address(forged, "127.0.0.1", from_gateway=True) == "198.51.100.7"
    assert client_address("", "10.1.2.3", from_gateway=True) == "10.1.2.3"
