"""Configuration: a bad value stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from dockyard_kit import registry
from dockyard_kit.config import Settings
from services.deployer.settings import DeployerSettings
from services.identity.settings import IdentitySettings
from services.projects.settings import ProjectsSettings
from tests.support.paths import REPO_ROOT


def start_with(env: dict[str, str], service: str = "projects") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
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
    settings = Settings(DOCKYARD_SECRET_KEY="k")
    for service in registry.SERVICES:
        assert settings.service_address(service.name) == f"127.0.0.1:{service.default_port}"


def test_missing_master_secret_is_named():
    result = start_with({})
    assert result.returncode == 2
    assert "DOCKYARD_SECRET_KEY" in result.stderr


def test_seed_defaults_for_the_pool():
    settings = Settings(DOCKYARD_SECRET_KEY="k")
    assert settings.DOCKYARD_DB_POOL_MAX == 20
    assert settings.DOCKYARD_DB_POOL_IDLE_SECONDS == 30
    assert settings.DOCKYARD_DB_CONNECT_TIMEOUT == 2


def test_database_url_overrides_postgres_variables():
    settings = Settings(DOCKYARD_SECRET_KEY="k", DATABASE_URL="postgresql://u:p%40ss@db.internal:6543/plat")
    assert settings.admin_connection() == {
        "host": "db.internal",
        "port": 6543,
        "database": "plat",
        "user": "u",
        "password": "p@ss",
        "ssl": None,
    }


def test_role_passwords_differ_per_service_and_are_stable():
    settings = Settings(DOCKYARD_SECRET_KEY="k")
    assert settings.service_role_password("identity") == Settings(
        DOCKYARD_SECRET_KEY="k"
    ).service_role_password("identity")
    assert settings.service_role_password("identity") != settings.service_role_password("projects")


def test_a_forged_forwarded_for_is_not_the_client_address():
    from dockyard_kit.interceptors import client_address

    gateway = frozenset({"127.0.0.1"})
    # The gateway appends the address it saw; what the client wrote to its left is ignored.
    assert client_address("203.0.113.9, 198.51.100.7", "127.0.0.1", gateway) == "198.51.100.7"
    # A direct caller that is not a trusted proxy cannot claim another address at all.
    assert client_address("203.0.113.9", "10.1.2.3", gateway) == "10.1.2.3"
    assert client_address("", "10.1.2.3", gateway) == "10.1.2.3"


def test_trusted_proxies_must_be_addresses(secret_key_file):
    result = start_with(
        {"DOCKYARD_SECRET_KEY_FILE": str(secret_key_file), "DOCKYARD_TRUSTED_PROXIES": "gateway"}
    )
    assert result.returncode == 2 and "DOCKYARD_TRUSTED_PROXIES" in result.stderr
