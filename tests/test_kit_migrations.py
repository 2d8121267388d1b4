"""The kit migrates its own tables (outbox, inbox, parked events, the deny-list) in every service's
schema, from its own chain: a fresh database gets them, and a database made by Dockyard 0.1, whose
service chains made them, upgrades in place with its rows."""

import os
import pathlib
import secrets
import subprocess
import time
import uuid

import asyncpg
import pytest
from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit import db, migrations
from dockyard_kit.auth import Caller
from dockyard_kit.events import enqueue, new_event
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.revocations import DenyList, apply_revocation_event
from dockyard_kit.stack.components import PG_BIN
from tests.support.paths import REPO_ROOT
from tests.support.processes import PROBE, ServiceProcess

# Made by 0.1's code (how: the dump's own header): every schema at its head then, a few rows in each.
DUMP_AT_0_1 = pathlib.Path(__file__).parent / "data" / "schemas_at_0.1.sql"
REVISIONS_AT_0_1 = {
    "identity": "0005_api_token_names_reusable",
    "projects": "0003_projects_model",
    "deployer": "0002_revoked_users",
    "audit": "0002_revoked_users",
}
MIGRATIONS = {name: REPO_ROOT / "services" / name / "migrations" for name in SERVICE_NAMES}
KIT_TABLES = {
    "outbox",
    "inbox",
    "parked_events",
    "revoked_users",
    "revoked_token_sources",
    "session_not_before",
}
ALICE = uuid.UUID("00000000-0000-4000-8000-000000000001")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000002")  # disabled in every schema's deny-list


def _pg(postgres, program: str, *args: str) -> str:
    command = [str(PG_BIN / program), "-h", postgres.host, "-p", str(postgres.port), "-U", postgres.user_name]
    env = {**os.environ, "PGPASSWORD": postgres.password}
    return subprocess.run([*command, *args], check=True, env=env, capture_output=True, text=True).stdout


async def _admin(settings) -> asyncpg.Connection:
    return await asyncpg.connect(**settings.admin_connection())


# What makes up a schema, by name and kind: enough to tell a missing, extra or reshaped object, while
# a restored CHECK's text (PostgreSQL re-parses it) may read differently from the original's.
SCHEMA_OBJECTS = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default"
    " FROM information_schema.columns WHERE table_schema = $1",
    "constraints": "SELECT conrelid::regclass::text, conname, contype::text FROM pg_constraint"
    " WHERE connamespace = $1::regnamespace",
    "indexes": "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = $1",
    "relations": "SELECT relname, relkind::text FROM pg_class WHERE relnamespace = $1::regnamespace",
    "functions": "SELECT proname FROM pg_proc WHERE pronamespace = $1::regnamespace",
    "triggers": "SELECT tgrelid::regclass::text, tgname FROM pg_trigger"
    " WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE $1 || '.%'",
    "policies": "SELECT tablename, policyname, cmd FROM pg_policies WHERE schemaname = $1",
}


async def _schema_objects(settings) -> dict[str, dict[str, set[tuple]]]:
    conn = await _admin(settings)
    try:
        return {
            name: {
                kind: {tuple(row) for row in await conn.fetch(query, name)}
                for kind, query in SCHEMA_OBJECTS.items()
            }
            for name in SERVICE_NAMES
        }
    finally:
        await conn.close()


async def _migrate_every_service(settings) -> dict[str, tuple[migrations.Revisions, migrations.Revisions]]:
    """What the bootstrap step (role) and each service's start-up (both chains) do to the database."""
    moves = {}
    for name in SERVICE_NAMES:
        await db.bootstrap_service_role(settings, name)
        moves[name] = await migrations.upgrade_to_head(settings, name, MIGRATIONS[name])
    return moves


@pytest.fixture
async def database_at_0_1(postgres, settings):
    """The test's own database, restored from the 0.1 dump (roles first: the dump names them)."""
    for name in SERVICE_NAMES:
        await db.bootstrap_service_role(settings, name)
    restore = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", settings.POSTGRES_DATABASE, "-f", str(DUMP_AT_0_1)]
    _pg(postgres, "psql", *restore)
    return settings


async def test_a_fresh_database_gets_the_kit_tables_in_every_schema(settings):
    moves = await _migrate_every_service(settings)
    conn = await _admin(settings)
    try:
        for name in SERVICE_NAMES:
            head = migrations.head_revision(MIGRATIONS[name])
            assert moves[name] == (migrations.Revisions(), head)
            assert await migrations.current_revision(conn, name) == head
            tables = {
                row["tablename"]
                for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", name)
            }
            assert KIT_TABLES | {migrations.KIT_VERSION_TABLE} <= tables
            # A service without tables of its own has no chain, so no version table, of its own.
            assert (migrations.SERVICE_VERSION_TABLE in tables) == bool(head.service)
    finally:
        await conn.close()
    assert migrations.head_revision(MIGRATIONS["audit"]) == migrations.Revisions(
        service="0001_audit_trail", kit="0003_inbox_age_index"
    )
    assert migrations.head_revision(MIGRATIONS["deployer"]) == migrations.Revisions(
        service="0001_deployer_model", kit="0003_inbox_age_index"
    )
    assert (
        str(migrations.head_revision(MIGRATIONS["identity"]))
        == "0006_team_invitations+kit:0003_inbox_age_index"
    )
    again = await _migrate_every_service(settings)
    assert all(before == after for before, after in again.values())


async def test_a_database_made_by_0_1_upgrades_in_place_and_keeps_its_rows(database_at_0_1):
    settings = database_at_0_1
    moves = await _migrate_every_service(settings)
    for name in SERVICE_NAMES:
        # A service that came after 0.1 (notifications) starts from an empty schema.
        assert moves[name] == (
            migrations.Revisions(service=REVISIONS_AT_0_1.get(name, "")),
            migrations.head_revision(MIGRATIONS[name]),
        )
    conn = await _admin(settings)
    try:
        # The service version tables are at their heads; the revisions that only made kit tables
        # are gone.
        assert (
            await conn.fetchval("SELECT version_num FROM identity.alembic_version")
            == migrations.head_revision(MIGRATIONS["identity"]).service
        )
        assert (
            await conn.fetchval("SELECT version_num FROM projects.alembic_version")
            == migrations.head_revision(MIGRATIONS["projects"]).service
        )
        assert (
            await conn.fetchval("SELECT version_num FROM deployer.alembic_version")
            == migrations.head_revision(MIGRATIONS["deployer"]).service
        )
        assert (
            await conn.fetchval("SELECT version_num FROM audit.alembic_version")
            == migrations.head_revision(MIGRATIONS["audit"]).service
        )
        # The service's rows...
        assert (
            await conn.fetchval("SELECT email FROM identity.users WHERE id = $1", ALICE)
            == "Alice@Example.com"
        )
        assert await conn.fetchval("SELECT count(*) FROM identity.api_tokens WHERE name = 'ci'") == 2
        assert await conn.fetchval("SELECT count(*) FROM identity.team_members") == 1
        assert await conn.fetchval("SELECT name FROM projects.projects") == "shop"
        assert await conn.fetchval("SELECT name FROM projects.applications") == "web"
        assert (
            await conn.fetchval("SELECT role FROM projects.user_roles WHERE user_id = $1", ALICE) == "admin"
        )
        # ...and the kit's, in every schema the dump has.
        for name in REVISIONS_AT_0_1:
            outbox = await conn.fetch(
                f"SELECT id, published_at IS NULL AS pending FROM {name}.outbox ORDER BY id"
            )
            assert [(row["id"], row["pending"]) for row in outbox] == [(1, False), (2, True)]
            assert await conn.fetchval(f"SELECT count(*) FROM {name}.inbox") == 1
            assert await conn.fetchval(f"SELECT deliveries FROM {name}.parked_events") == 5
            assert (
                await conn.fetchval(f"SELECT reason FROM {name}.revoked_users WHERE user_id = $1", BOB)
                == "disabled"
            )
    finally:
        await conn.close()


async def test_the_adopted_kit_tables_work_as_the_service_uses_them(database_at_0_1):
    await _migrate_every_service(database_at_0_1)
    for name in REVISIONS_AT_0_1:
        await _use_the_kit_tables(database_at_0_1, name)


async def _use_the_kit_tables(settings, name: str) -> None:
    """As the service's role: an event enqueued, a user revoked, an event marked processed."""
    pool = await db.create_pool(settings, name)
    try:
        async with db.transaction(pool) as conn:
            await enqueue(
                conn, new_event(name, "widget", "created", "w9", wrappers_pb2.StringValue(value="x"))
            )
            await apply_revocation_event(conn, Event(type="identity.user.deleted", resource_id=str(ALICE)))
            await conn.execute(
                "INSERT INTO inbox (consumer, event_id) VALUES ('revocations', $1)", uuid.uuid4()
            )
        async with pool.acquire() as conn:
            # The outbox's sequence goes on from the restored rows.
            assert await conn.fetchval("SELECT id FROM outbox WHERE resource_id = 'w9'") == 3
            assert await conn.fetchval("SELECT count(*) FROM inbox") == 2
            with pytest.raises(asyncpg.UniqueViolationError):  # parked_events kept its constraints
                await conn.execute(
                    "INSERT INTO parked_events (consumer, event_id, subject, payload, error, deliveries)"
                    " VALUES ('revocations', '20000000-0000-4000-8000-000000000002', 's', '', 'e', 1)"
                )
        deny_list = DenyList(lambda: pool)
        await deny_list.reload()
        for user_id in (ALICE, BOB):
            assert deny_list.refusal(Caller(user_id=str(user_id), role="developer")) is not None, name
    finally:
        await pool.close()


async def test_an_upgraded_database_has_the_schemas_a_fresh_one_gets(postgres, database_at_0_1):
    fresh = database_at_0_1.model_copy(update={"POSTGRES_DATABASE": f"t_{secrets.token_hex(6)}"})
    _pg(postgres, "createdb", fresh.POSTGRES_DATABASE)
    await _migrate_every_service(fresh)
    expected = await _schema_objects(fresh)
    at_0_1 = await _schema_objects(database_at_0_1)
    assert at_0_1 != expected  # 0.1's version tables: the comparison sees them
    await _migrate_every_service(database_at_0_1)
    assert await _schema_objects(database_at_0_1) == expected


def test_every_service_starts_and_serves_on_a_database_made_by_0_1(database_at_0_1, service_envs):
    processes = {name: ServiceProcess(f"services.{name}", service_envs[name]) for name in SERVICE_NAMES}
    try:
        for name, process in processes.items():
            process.wait_health("SERVING", timeout=90)
            # The log writer hands lines over in batches (dockyard_kit/logs.py): the line may follow
            # health by up to a batch.
            deadline = time.monotonic() + 5
            while not (applied := [e for e in process.logs() if e.get("msg") == "migrations applied"]):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert [(e["from"], e["to"]) for e in applied] == [
                (REVISIONS_AT_0_1.get(name), str(migrations.head_revision(MIGRATIONS[name])))
            ], name
    finally:
        codes = [process.stop() for process in processes.values()]
    assert codes == [0] * len(SERVICE_NAMES)


@pytest.mark.parametrize("version_table", [migrations.KIT_VERSION_TABLE, migrations.SERVICE_VERSION_TABLE])
async def test_health_needs_both_chains_at_head(service_envs, settings, version_table):
    probe = ServiceProcess("tests.support.probe_service", service_envs[PROBE])
    try:
        probe.wait_health("SERVING")
        conn = await _admin(settings)
        try:
            head = await conn.fetchval(f"SELECT version_num FROM probe.{version_table}")
            await conn.execute(f"UPDATE probe.{version_table} SET version_num = 'an_older_revision'")
            probe.wait_health("NOT_SERVING", timeout=10)
            await conn.execute(f"UPDATE probe.{version_table} SET version_num = $1", head)
            probe.wait_health("SERVING", timeout=10)
        finally:
            await conn.close()
    finally:
        assert probe.stop() == 0
