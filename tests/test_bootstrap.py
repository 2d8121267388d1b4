"""The bootstrap step (`python -m dockyard_kit.bootstrap`, issue 9 item 6): it alone holds the
administrative database login and the master secret; each service gets its own role's password and
its own keys, starts without the master secret and the login, and refuses to start without its own
secrets; one service's material opens nothing of another's; running it again changes nothing, also
while services run."""

import json
import os
import pathlib
import stat
import subprocess
import sys

import asyncpg
import pytest

from dockyard_kit import bootstrap, db, service_secrets
from dockyard_kit.config import Settings
from dockyard_kit.crypto import DecryptionError, KeyRing, decrypt, encrypt, master_key_id
from dockyard_kit.registry import SERVICE_NAMES
from tests.support.paths import REPO_ROOT
from tests.support.processes import ServiceProcess, bootstrap_services
from tests.support.waiting import eventually


def start_service(env: dict[str, str], service: str = "projects") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def secrets_of(env: dict[str, str], service: str) -> service_secrets.ServiceSecrets:
    return service_secrets.load(pathlib.Path(env["DOCKYARD_SERVICE_SECRET_FILE"]), service)


def test_a_service_without_its_own_secrets_refuses_to_start_even_given_the_master_secret(operator_env):
    """The administrative login and the master secret are not credentials a service accepts."""
    result = start_service(operator_env)

    assert result.returncode == 2, result.stderr[-2000:]
    assert "DOCKYARD_SERVICE_SECRET_FILE is not set" in result.stderr
    assert "python -m dockyard_kit.bootstrap" in result.stderr


def test_a_service_given_another_services_secrets_refuses_to_start(service_envs):
    env = {
        **service_envs["projects"],
        "DOCKYARD_SERVICE_SECRET_FILE": service_envs["identity"]["DOCKYARD_SERVICE_SECRET_FILE"],
    }
    result = start_service(env)

    assert result.returncode == 2, result.stderr[-2000:]
    assert "holds the identity service's secrets, not projects'" in result.stderr


def test_a_service_gets_neither_the_master_secret_nor_the_administrative_login(service_envs, operator_env):
    master = pathlib.Path(operator_env["DOCKYARD_SECRET_KEY_FILE"]).read_text().strip()
    admin_password = pathlib.Path(operator_env["POSTGRES_PASSWORD_FILE"]).read_text().strip()
    for service, env in service_envs.items():
        assert not set(env) & {*bootstrap.ADMIN_VARIABLES, *bootstrap.MASTER_VARIABLES}, service
        secrets_file = pathlib.Path(env["DOCKYARD_SERVICE_SECRET_FILE"])
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        text = secrets_file.read_text()
        assert master not in text and admin_password not in text, service
        assert json.loads(text)["service"] == service
    # A DATABASE_URL keeps where the database is, not who logs in.
    url = {"DATABASE_URL": "postgresql://postgres:hunter2@db.internal:5433/dockyard?sslmode=require"}
    given = bootstrap.service_environment(url, "projects", pathlib.Path("/run/dockyard"))
    assert given["DATABASE_URL"] == "postgresql://db.internal:5433/dockyard?sslmode=require"
    assert given["DOCKYARD_SERVICE_SECRET_FILE"] == "/run/dockyard/projects.secret"


async def test_a_services_role_password_logs_in_as_its_own_role_only(service_envs, settings):
    where = settings.admin_connection()
    for own in SERVICE_NAMES:
        password = secrets_of(service_envs[own], own).database_password
        conn = await asyncpg.connect(**{**where, "user": db.role_name(own), "password": password})
        assert await conn.fetchval("SELECT current_user") == db.role_name(own)
        await conn.close()
        for other in [*(name for name in SERVICE_NAMES if name != own), where["user"]]:
            role = db.role_name(other) if other in SERVICE_NAMES else other
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(**{**where, "user": role, "password": password})


async def test_identitys_signing_keys_move_to_its_own_key_which_projects_cannot_open(
    identity_pool, settings, operator_env, tmp_path
):
    """A signing key sealed under the master secret itself (as before the bootstrap step) is moved
    to identity's own key by the bootstrap; projects' key material opens neither."""
    master = settings.secret_key()
    where = b"identity.signing_keys.private_key_encrypted:legacy-kid"
    await identity_pool.execute(
        "INSERT INTO signing_keys (kid, algorithm, private_key_encrypted, master_key_id, public_jwk)"
        " VALUES ('legacy-kid', 'ES256', $1, $2, '{}')",
        encrypt(b"PKCS#8 of the key", key_ring=KeyRing.of(master), associated_data=where),
        master_key_id(master),
    )

    envs = bootstrap_services(operator_env, tmp_path / "secrets", ("identity", "projects"))
    identity, projects = secrets_of(envs["identity"], "identity"), secrets_of(envs["projects"], "projects")
    row = await identity_pool.fetchrow("SELECT * FROM signing_keys WHERE kid = 'legacy-kid'")

    assert row["master_key_id"] == identity.key_ring().current_key_id != master_key_id(master)
    assert decrypt(row["private_key_encrypted"], key_ring=identity.key_ring(), associated_data=where) == (
        b"PKCS#8 of the key"
    )
    with pytest.raises(DecryptionError):
        decrypt(row["private_key_encrypted"], key_ring=projects.key_ring(), associated_data=where)
    with pytest.raises(DecryptionError):
        decrypt(row["private_key_encrypted"], key_ring=KeyRing.of(master), associated_data=where)


async def test_the_bootstrap_again_changes_nothing_while_a_service_runs(service_envs, operator_env, tmp_path):
    secrets_dir = pathlib.Path(service_envs["projects"]["DOCKYARD_SERVICE_SECRET_FILE"]).parent
    before = {path.name: path.read_bytes() for path in secrets_dir.iterdir()}
    projects = ServiceProcess("services.projects", service_envs["projects"])
    try:
        projects.wait_health("SERVING", timeout=90)
        again = bootstrap_services(operator_env, secrets_dir)

        assert again == service_envs
        assert {path.name: path.read_bytes() for path in secrets_dir.iterdir()} == before
        # The running service's password still logs in, and it still serves.
        service_settings = Settings(
            **{k: v for k, v in service_envs["projects"].items() if k in Settings.model_fields}
        )
        conn = await asyncpg.connect(**db.service_connection(service_settings, "projects"))
        await conn.close()
        assert projects.health() == "SERVING"
    finally:
        assert projects.stop() == 0


def process_environments(marker: str) -> dict[int, dict[str, str]]:
    """pid -> environment of every process of ours whose environment mentions `marker`."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in raw:
            pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
            found[int(entry.name)] = {key.decode(): value.decode(errors="replace") for key, value in pairs}
    return found


def test_make_run_starts_each_service_with_its_own_secrets_only(stack):
    """`make run` ran the bootstrap step and gave each service its own file, and no service process
    of the running platform has the master secret or the administrative login in its environment."""
    secrets_dir = stack.data_dir / "service-secrets"
    services = {
        env["DOCKYARD_SERVICE_SECRET_FILE"]: env
        for env in process_environments(str(secrets_dir)).values()
        if "DOCKYARD_SERVICE_SECRET_FILE" in env
    }
    assert sorted(services) == sorted(str(secrets_dir / f"{name}.secret") for name in SERVICE_NAMES)
    for file, env in services.items():
        assert not set(env) & {*bootstrap.ADMIN_VARIABLES, *bootstrap.MASTER_VARIABLES}, file
        assert os.path.isfile(file)


def test_a_service_whose_role_the_bootstrap_has_not_made_says_to_run_it(operator_env, tmp_path):
    """Its own secrets, but a database the bootstrap step never saw: not serving, and the log says why."""
    # A master secret no bootstrap used (roles are the cluster's: another test's may exist).
    service_secrets.derive("projects", os.urandom(32)).write(tmp_path / "projects.secret")
    projects = ServiceProcess(
        "services.projects", bootstrap.service_environment(operator_env, "projects", tmp_path)
    )
    try:
        hint = "run python -m dockyard_kit.bootstrap for role dockyard_projects"
        eventually(lambda: any(entry.get("hint") == hint for entry in projects.logs()), timeout=30)
        assert projects.health() == "NOT_SERVING"
    finally:
        assert projects.stop() == 0
