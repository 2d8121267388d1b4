"""Master key rotation: `python -m dockyard_kit.reencrypt` moves every sealed value of the
projects schema from projects' key under the old master secret (K1) to its key under the new one
(K2), against the projects schema in the test's own database, run as an operator would run it (a
process with the master secret). And the bootstrap step moves values sealed under the master secret
itself (before each service had keys of its own) to projects' own key."""

import asyncio
import base64
import dataclasses
import pathlib
import secrets
import subprocess
import sys
import uuid

import pytest

from dockyard_kit import db, service_secrets
from dockyard_kit.config import Settings
from dockyard_kit.crypto import KeyRing, key_id_of, master_key_id
from dockyard_kit.sealing import Sealer
from services.projects.sealed_columns import COLUMNS
from services.projects.store.session import platform_transaction
from tests.support.paths import REPO_ROOT
from tests.support.waiting import eventually_async

ROWS_PER_COLUMN = 3
ENCRYPTED_COLUMNS = [(sealed.table, sealed.column) for sealed in COLUMNS]
SEALED_VALUES = ROWS_PER_COLUMN * len(ENCRYPTED_COLUMNS)


@dataclasses.dataclass
class Rotation:
    """K1 (the master secret the values were sealed under), K2 (the new one), projects' own keys
    under each, and how to run the command."""

    k1: bytes
    k2: bytes
    env: dict[str, str]
    previous_file: pathlib.Path
    settings_k2: Settings

    @property
    def k1_own(self) -> bytes:
        return service_secrets.sealing_root_key(self.k1, "projects")

    @property
    def k2_own(self) -> bytes:
        return service_secrets.sealing_root_key(self.k2, "projects")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dockyard_kit.reencrypt", "--service", "projects", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
async def rotation(tmp_path, operator_env, settings, projects_pool) -> Rotation:
    """K2 becomes the master secret and K1 a previous one. As the bootstrap step would, each test
    gives the projects role K2's password (role passwords derive from the master secret)."""
    k2_file = tmp_path / "k2.key"
    k2_file.write_text(secrets.token_hex(32))
    previous_file = tmp_path / "previous.keys"
    previous_file.write_bytes(settings.secret_key() + b"\n")
    env = {
        **operator_env,
        "DOCKYARD_SECRET_KEY_FILE": str(k2_file),
        "DOCKYARD_PREVIOUS_SECRET_KEYS_FILE": str(previous_file),
    }
    settings_k2 = Settings(**{key: value for key, value in env.items() if key in Settings.model_fields})
    return Rotation(settings.secret_key(), settings_k2.secret_key(), env, previous_file, settings_k2)


async def seal_samples(pool, sealer: Sealer, rows: int = ROWS_PER_COLUMN) -> dict:
    """`rows` values in every encrypted column, sealed by `sealer`, with the rows they need (a
    project, applications, domains) and a plain env var that must stay as it is: (table, column) ->
    {row id: plaintext}."""
    plaintexts = {column: {} for column in ENCRYPTED_COLUMNS}

    def sealed(table: str, column: str, plaintext: str) -> tuple[uuid.UUID, str]:
        row_id = uuid.uuid4()
        plaintexts[(table, column)][row_id] = plaintext
        return row_id, sealer.seal(table, column, row_id, plaintext)

    tag = secrets.token_hex(4)
    async with platform_transaction(pool) as conn:
        project_id = await conn.fetchval(
            "INSERT INTO projects (name, owner_id) VALUES ($1, $2) RETURNING id",
            f"rotation-{tag}",
            uuid.uuid4(),
        )
        for n in range(rows):
            application_id = await conn.fetchval(
                "INSERT INTO applications (id, registry_password, project_id, name, type, source_type)"
                " VALUES ($1, $2, $3, $4, 'docker', 'docker') RETURNING id",
                *sealed("applications", "registry_password", f"registry password {n}"),
                project_id,
                f"app-{n}-{tag}",
            )
            await conn.execute(
                "INSERT INTO env_vars (id, value, application_id, key, is_secret) VALUES ($1, $2, $3, $4, true)",
                *sealed("env_vars", "value", f"secret value {n}"),
                application_id,
                f"SECRET_{n}",
            )
            await conn.execute(
                "INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PLAIN', 'not a secret')",
                application_id,
            )
            await conn.execute(
                "INSERT INTO git_sources (id, webhook_secret, application_id, provider, repository)"
                " VALUES ($1, $2, $3, 'github', 'acme/app')",
                *sealed("git_sources", "webhook_secret", f"whsec_{n}_{secrets.token_hex(8)}"),
                application_id,
            )
            domain_id = await conn.fetchval(
                "INSERT INTO domains (project_id, domain, target_type, target_id, verification_token)"
                " VALUES ($1, $2, 'application', $3, md5(random()::text)) RETURNING id",
                project_id,
                f"app{n}-{tag}.example.com",
                application_id,
            )
            await insert_certificate(conn, sealed, domain_id, n, "now() + interval '30 days'")
            await conn.execute(
                "INSERT INTO databases (id, connection_string, project_id, name, type, version, username)"
                " VALUES ($1, $2, $3, $4, 'postgresql', '18', 'app')",
                *sealed("databases", "connection_string", f"postgresql://app:pw{n}@db-{n}:5432/app"),
                project_id,
                f"db-{n}",
            )
    return plaintexts


async def insert_certificate(conn, sealed, domain_id: uuid.UUID, n: int, expires_at: str) -> None:
    await conn.execute(
        "INSERT INTO certificates (id, private_key, domain_id, issuer, certificate, expires_at)"
        f" VALUES ($1, $2, $3, 'Test CA', '-----BEGIN CERTIFICATE-----', {expires_at})",
        *sealed("certificates", "private_key", f"-----BEGIN PRIVATE KEY-----{n}"),
        domain_id,
    )


async def stored_values(settings: Settings) -> dict:
    """(table, column) -> {row id: stored text}, as the administrative login sees them."""
    conn = await db.connect_admin(settings)
    try:
        values = {}
        for table, column in ENCRYPTED_COLUMNS:
            rows = await conn.fetch(f"SELECT id, {column} AS value FROM projects.{table}")
            values[(table, column)] = {row["id"]: row["value"] for row in rows}
        return values
    finally:
        await conn.close()


def key_id(stored: str) -> str:
    return key_id_of(base64.b64decode(stored))


async def test_rotation_moves_every_sealed_value_to_the_new_key(projects_pool, settings, rotation):
    plaintexts = await seal_samples(projects_pool, Sealer("projects", KeyRing.of(rotation.k1_own)))
    before = await stored_values(settings)
    # Between restarting on K2 and running the command, old values read fine with the ring.
    ring_with_previous = Sealer("projects", KeyRing.of(rotation.k2_own, [rotation.k1_own]))
    for (table, column), values in plaintexts.items():
        for row_id, plaintext in values.items():
            assert key_id(before[(table, column)][row_id]) == master_key_id(rotation.k1_own)
            assert (
                ring_with_previous.unseal(table, column, row_id, before[(table, column)][row_id]) == plaintext
            )

    await db.bootstrap_service_role(rotation.settings_k2, "projects")
    first = rotation.run("--batch-size", "2")
    assert first.returncode == 0, first.stderr
    assert f"Re-encrypted {SEALED_VALUES} of {SEALED_VALUES} sealed values" in first.stdout
    assert master_key_id(rotation.k2_own) in first.stdout
    for table, column in ENCRYPTED_COLUMNS:
        assert f"projects.{table}.{column}" in first.stdout

    after = await stored_values(settings)
    k2_alone = Sealer("projects", KeyRing.of(rotation.k2_own))
    for (table, column), values in plaintexts.items():
        for row_id, plaintext in values.items():
            stored = after[(table, column)][row_id]
            assert key_id(stored) == master_key_id(rotation.k2_own)
            assert k2_alone.unseal(table, column, row_id, stored) == plaintext
    plain = [
        value
        for row_id, value in after[("env_vars", "value")].items()
        if row_id not in plaintexts[("env_vars", "value")]
    ]
    assert plain == ["not a secret"] * ROWS_PER_COLUMN

    second = rotation.run()
    assert second.returncode == 0, second.stderr
    assert f"Re-encrypted 0 of {SEALED_VALUES} sealed values" in second.stdout
    assert await stored_values(settings) == after


async def test_dry_run_counts_and_writes_nothing(projects_pool, settings, rotation):
    await seal_samples(projects_pool, Sealer("projects", KeyRing.of(rotation.k1_own)))
    before = await stored_values(settings)
    await db.bootstrap_service_role(rotation.settings_k2, "projects")
    dry = rotation.run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"Would re-encrypt {SEALED_VALUES} of {SEALED_VALUES} sealed values" in dry.stdout
    assert await stored_values(settings) == before


async def test_a_value_under_an_unknown_key_stops_the_command_naming_the_key(
    projects_pool, settings, rotation
):
    plaintexts = await seal_samples(projects_pool, Sealer("projects", KeyRing.of(rotation.k1_own)))
    # One more database, sealed under a master secret K3 that nobody configured.
    k3 = secrets.token_hex(32).encode()
    stray_id = uuid.uuid4()
    [project_id] = {
        row["project_id"] for row in await projects_pool.fetch("SELECT project_id FROM databases")
    }
    await projects_pool.execute(
        "INSERT INTO databases (id, connection_string, project_id, name, type, version, username)"
        " VALUES ($1, $2, $3, 'stray', 'redis', '7.4', 'app')",
        stray_id,
        Sealer("projects", KeyRing.of(k3)).seal(
            "databases", "connection_string", stray_id, "redis://app:pw@stray:6379/0"
        ),
        project_id,
    )
    before = await stored_values(settings)
    await db.bootstrap_service_role(rotation.settings_k2, "projects")

    failed = rotation.run("--batch-size", "100")
    assert failed.returncode == 1
    assert master_key_id(k3) in failed.stderr
    assert "projects.databases.connection_string" in failed.stderr and str(stray_id) in failed.stderr
    # Columns walked before it are done; its batch is rolled back whole (nothing in it moved to K2).
    after = await stored_values(settings)
    assert after[("databases", "connection_string")] == before[("databases", "connection_string")]
    for column in ENCRYPTED_COLUMNS[:-1]:
        assert {key_id(after[column][row_id]) for row_id in plaintexts[column]} == {
            master_key_id(rotation.k2_own)
        }

    # With K3 among the previous secrets, a new run finishes the work.
    rotation.previous_file.write_bytes(rotation.k1 + b"\n" + k3 + b"\n")
    done = rotation.run("--batch-size", "100")
    assert done.returncode == 0, done.stderr
    assert f"Re-encrypted {ROWS_PER_COLUMN + 1} of {SEALED_VALUES + 1} sealed values" in done.stdout
    databases = (await stored_values(settings))[("databases", "connection_string")]
    assert {key_id(value) for value in databases.values()} == {master_key_id(rotation.k2_own)}


async def waits_for_a_databases_row(observer) -> bool:
    """Some session is blocked on a lock while reading projects.databases FOR UPDATE: the command.
    (`observer` is outside any transaction, which would freeze its view of pg_stat_activity.)"""
    return await observer.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%FROM databases%FOR UPDATE%'"
    )


async def test_a_write_by_the_running_service_is_never_overwritten(projects_pool, settings, rotation):
    plaintexts = await seal_samples(projects_pool, Sealer("projects", KeyRing.of(rotation.k1_own)))
    database_id = next(iter(plaintexts[("databases", "connection_string")]))
    await db.bootstrap_service_role(rotation.settings_k2, "projects")
    service = await db.connect_admin(settings)
    observer = await db.connect_admin(settings)
    try:
        # The service (restarted on K2) is changing a row when the command reaches it.
        async with service.transaction():
            await service.execute("SELECT 1 FROM projects.databases WHERE id = $1 FOR UPDATE", database_id)
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "dockyard_kit.reencrypt", "--service", "projects", "--batch-size", "2",
                env=rotation.env, cwd=REPO_ROOT,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await eventually_async(
                lambda: waits_for_a_databases_row(observer), within=30, what="the command waits for the row"
            )
            assert command.returncode is None
            newer = Sealer("projects", KeyRing.of(rotation.k2_own)).seal(
                "databases", "connection_string", database_id, "postgresql://app:changed@db:5432/app"
            )
            await service.execute(
                "UPDATE projects.databases SET connection_string = $2 WHERE id = $1", database_id, newer
            )
        stdout, stderr = await asyncio.wait_for(command.communicate(), 60)
    finally:
        await service.close()
        await observer.close()
    assert command.returncode == 0, stderr.decode()
    assert f"Re-encrypted {SEALED_VALUES - 1} of {SEALED_VALUES} sealed values" in stdout.decode()
    assert (await stored_values(settings))[("databases", "connection_string")][database_id] == newer


async def test_expired_certificates_are_skipped_not_fatal(projects_pool, settings, rotation):
    plaintexts = {("certificates", "private_key"): {}}

    def sealed(table, column, plaintext):
        row_id = uuid.uuid4()
        plaintexts[(table, column)][row_id] = plaintext
        return row_id, Sealer("projects", KeyRing.of(rotation.k1_own)).seal(table, column, row_id, plaintext)

    async with platform_transaction(projects_pool) as conn:
        project_id = await conn.fetchval(
            "INSERT INTO projects (name, owner_id) VALUES ('expiring', $1) RETURNING id", uuid.uuid4()
        )
        domain_id = await conn.fetchval(
            "INSERT INTO domains (project_id, domain, target_type, target_id, verification_token)"
            " VALUES ($1, 'old.example.com', 'application', $2, md5(random()::text)) RETURNING id",
            project_id,
            uuid.uuid4(),
        )
        await insert_certificate(
            conn, sealed, domain_id, 0, "clock_timestamp() + interval '300 milliseconds'"
        )
        await insert_certificate(conn, sealed, domain_id, 1, "now() + interval '30 days'")
    await asyncio.sleep(0.5)
    await db.bootstrap_service_role(rotation.settings_k2, "projects")

    result = rotation.run()
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 1 of 2 sealed values" in result.stdout
    keys = {
        key_id(value) for value in (await stored_values(settings))[("certificates", "private_key")].values()
    }
    assert keys == {master_key_id(rotation.k1_own), master_key_id(rotation.k2_own)}


def test_help_explains_the_procedure(operator_env):
    result = subprocess.run(
        [sys.executable, "-m", "dockyard_kit.reencrypt", "--help"],
        env=operator_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for words in ("DOCKYARD_PREVIOUS_SECRET_KEYS_FILE", "--batch-size", "--dry-run", "Exit status"):
        assert words in result.stdout


def bootstrap_projects(
    env: dict[str, str], secrets_dir: pathlib.Path, *args: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard_kit.bootstrap",
            "--secrets-dir",
            str(secrets_dir),
            "--service",
            "projects",
            *args,
        ],
        env={**env, "COLUMNS": "300"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_bootstrap_moves_values_sealed_under_the_master_secret_to_projects_own_key(
    tmp_path, projects_pool, settings, operator_env
):
    """Before each service had keys of its own, values were sealed under the master secret itself;
    the bootstrap step, which alone holds it, moves them to the key it hands projects."""
    master = settings.secret_key()
    plaintexts = await seal_samples(projects_pool, Sealer("projects", KeyRing.of(master)))

    first = bootstrap_projects(operator_env, tmp_path / "secrets")
    assert first.returncode == 0, first.stderr
    handed = service_secrets.load(tmp_path / "secrets" / "projects.secret", "projects")
    own = Sealer("projects", handed.key_ring())
    after = await stored_values(settings)
    for (table, column), values in plaintexts.items():
        for row_id, plaintext in values.items():
            stored = after[(table, column)][row_id]
            assert key_id(stored) == master_key_id(service_secrets.sealing_root_key(master, "projects"))
            assert own.unseal(table, column, row_id, stored) == plaintext
    assert master_key_id(master) not in handed.key_ring().key_ids

    # Again (as a deploy does each time, also while projects runs): nothing moves, nothing changes.
    again = bootstrap_projects(operator_env, tmp_path / "secrets")
    assert again.returncode == 0, again.stderr
    assert await stored_values(settings) == after
    assert service_secrets.load(tmp_path / "secrets" / "projects.secret", "projects") == handed


async def test_during_a_rotation_the_bootstrap_hands_projects_its_keys_under_both_secrets(
    tmp_path, projects_pool, settings, rotation
):
    """Step 2 of the procedure (dockyard_kit/reencrypt.py): with K2 current and K1 previous, the
    bootstrap (--skip-reseal) gives projects a ring that seals under its K2 key and still opens what
    it sealed under its K1 key, and leaves the values for the command."""
    plaintexts = await seal_samples(projects_pool, Sealer("projects", KeyRing.of(rotation.k1_own)))
    before = await stored_values(settings)

    result = bootstrap_projects(rotation.env, tmp_path / "secrets", "--skip-reseal")
    assert result.returncode == 0, result.stderr
    handed = service_secrets.load(tmp_path / "secrets" / "projects.secret", "projects").key_ring()
    assert handed.current_key_id == master_key_id(rotation.k2_own)
    assert handed.key_ids == {master_key_id(rotation.k2_own), master_key_id(rotation.k1_own)}
    assert await stored_values(settings) == before
    for (table, column), values in plaintexts.items():
        for row_id, plaintext in values.items():
            assert Sealer("projects", handed).unseal(
                table, column, row_id, before[(table, column)][row_id]
            ) == (plaintext)
    # The role's password is K2's now: the command (step 3) connects with it.
    moved = rotation.run()
    assert moved.returncode == 0, moved.stderr
    assert f"Re-encrypted {SEALED_VALUES} of {SEALED_VALUES} sealed values" in moved.stdout
