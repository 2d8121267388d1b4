"""Schema and role isolation, and migrations applied once when replicas start together."""

import itertools

import asyncpg
import pytest

from dockyard_kit import db, migrations
from dockyard_kit.registry import SERVICE_NAMES
from services.projects.__main__ import SPEC as PROJECTS
from tests.support.paths import REPO_ROOT
from tests.support.processes import ServiceProcess

SERVICE_MIGRATIONS = {name: REPO_ROOT / "services" / name / "migrations" for name in SERVICE_NAMES}


@pytest.fixture
async def migrated(settings):
    for name in SERVICE_NAMES:
        await db.bootstrap_service_role(settings, name)
        await migrations.upgrade_to_head(settings, name, SERVICE_MIGRATIONS[name])
    return settings


@pytest.mark.parametrize(("own", "other"), list(itertools.permutations(SERVICE_NAMES, 2)))
async def test_a_service_role_cannot_touch_another_schema(migrated, own, other):
    conn = await asyncpg.connect(**db.service_connection(migrated, own))
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0  # its own schema works
        for statement in (
            f"SELECT * FROM {other}.outbox",
            f"INSERT INTO {other}.inbox (consumer, event_id) VALUES ('x', gen_random_uuid())",
            f"CREATE TABLE {other}.intruder (id int)",
        ):
            with pytest.raises(
                asyncpg.InsufficientPrivilegeError, match=f"permission denied for schema {other}"
            ):
                await conn.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await conn.close()


async def test_service_roles_are_plain_logins(migrated):
    conn = await asyncpg.connect(**migrated.admin_connection())
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = ANY($1)",
            [f"dockyard_{name}" for name in SERVICE_NAMES],
        )
    finally:
        await conn.close()
    assert {row["rolname"] for row in rows} == {f"dockyard_{name}" for name in SERVICE_NAMES}
    assert not any(row["rolsuper"] or row["rolcreaterole"] or row["rolcreatedb"] for row in rows)


async def test_three_replicas_migrate_once_and_all_serve(service_envs, settings):
    replicas = [ServiceProcess("services.projects", service_envs["projects"]) for _ in range(3)]
    try:
        for replica in replicas:
            replica.wait_health("SERVING", timeout=90)
        applied = [e for r in replicas for e in r.logs() if e.get("msg") == "migrations applied"]
        assert len(applied) == 1, applied
        head = migrations.head_revision(PROJECTS.migrations_dir)
        assert applied[0]["to"] == str(head)
        conn = await asyncpg.connect(**settings.admin_connection())
        try:
            kit_versions = await conn.fetch("SELECT version_num FROM projects.kit_alembic_version")
            versions = await conn.fetch("SELECT version_num FROM projects.alembic_version")
        finally:
            await conn.close()
        assert [row["version_num"] for row in kit_versions] == [head.kit]
        assert [row["version_num"] for row in versions] == [head.service]
    finally:
        codes = [replica.stop() for replica in replicas]
    assert codes == [0, 0, 0]
