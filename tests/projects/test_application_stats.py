"""The application_stats materialized view: after a refresh it equals the live counts (archived
applications left out), a CONCURRENTLY refresh never blocks readers, one replica refreshes at a
time, and on the running platform GetProjectStats follows the applications within the refresh
interval."""

import asyncio
import uuid

import pytest

from services.projects.domain.stats import REFRESH_LOCK, refresh_once
from services.projects.store import projects as project_store
from services.projects.store.session import platform_transaction
from tests.support.calls import rest
from tests.support.database import admin_database
from tests.support.resources import create
from tests.support.waiting import eventually

COUNTS = ("total_applications", "running", "stopped", "failed")
# Per project: how many live applications of each status, and how many archived.
MIXES = (
    {"running": 3, "stopped": 2, "failed": 1, "deploying": 1, "scaling": 1, "archived": 2},
    {"running": 1},
    {"archived": 3},
    {},
)

LIVE_COUNTS = """
SELECT count(*) AS total_applications,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'stopped') AS stopped,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM applications WHERE project_id = $1 AND deleted_at IS NULL
"""


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    return {"DOCKYARD_STATS_REFRESH_SECONDS": "0.5"}


async def add_applications(conn, project_id: uuid.UUID, mix: dict[str, int]) -> None:
    for status, count in mix.items():
        for _ in range(count):
            await conn.execute(
                "INSERT INTO applications (project_id, name, type, source_type, status, deleted_at)"
                " VALUES ($1, $2, 'docker', 'docker', $3, CASE WHEN $3::varchar = 'archived' THEN now() END)",
                project_id,
                f"{status}-{uuid.uuid4().hex[:8]}",
                status,
            )


async def seed(pool) -> list[uuid.UUID]:
    async with platform_transaction(pool) as conn:
        projects = []
        for n, mix in enumerate(MIXES):
            project_id = await conn.fetchval(
                "INSERT INTO projects (name, owner_id) VALUES ($1, $2) RETURNING id",
                f"stats-{n}",
                uuid.uuid4(),
            )
            await add_applications(conn, project_id, mix)
            projects.append(project_id)
    return projects


async def served_and_live(pool, project_id: uuid.UUID) -> tuple[dict, dict]:
    """GetProjectStats' data (the view) and the counts computed from the applications now."""
    async with platform_transaction(pool) as conn:
        served = await project_store.stats(conn, project_id)
        live = await conn.fetchrow(LIVE_COUNTS, project_id)
    return {name: served[name] for name in COUNTS}, dict(live)


async def test_after_a_refresh_the_view_equals_the_live_counts(projects_pool):
    projects = await seed(projects_pool)
    stale, live = await served_and_live(projects_pool, projects[0])
    assert stale == dict.fromkeys(COUNTS, 0) and live["total_applications"] == 8
    async with projects_pool.acquire() as conn:
        before = await conn.fetchval(
            "SELECT refreshed_at FROM view_refreshes WHERE view_name = 'application_stats'"
        )

    assert await refresh_once(projects_pool)
    for project_id in projects:
        served, live = await served_and_live(projects_pool, project_id)
        assert served == live
    assert (await served_and_live(projects_pool, projects[0]))[0] == {
        "total_applications": 8,
        "running": 3,
        "stopped": 2,
        "failed": 1,
    }
    assert (await served_and_live(projects_pool, projects[2]))[0] == dict.fromkeys(COUNTS, 0)
    async with platform_transaction(projects_pool) as conn:
        assert (await project_store.stats(conn, projects[0]))["refreshed_at"] > before

    # Archiving, restoring and status changes show after the next refresh.
    async with platform_transaction(projects_pool) as conn:
        await conn.execute(
            "SELECT soft_delete_application(id) FROM applications WHERE project_id = $1 AND status = 'running'",
            projects[0],
        )
        await conn.execute(
            "UPDATE applications SET status = 'failed' WHERE project_id = $1 AND status = 'stopped'",
            projects[1],
        )
        await add_applications(conn, projects[1], {"stopped": 2})
    assert await refresh_once(projects_pool)
    for project_id in projects:
        served, live = await served_and_live(projects_pool, project_id)
        assert served == live
    assert (await served_and_live(projects_pool, projects[0]))[0]["running"] == 0


async def test_a_concurrent_refresh_never_blocks_readers(projects_pool):
    [project_id, *_] = await seed(projects_pool)
    assert await refresh_once(projects_pool)
    async with projects_pool.acquire() as refresher, projects_pool.acquire() as reader:
        async with platform_transaction(projects_pool) as conn:
            await add_applications(conn, project_id, {"running": 4})
        async with refresher.transaction():
            # The refresh holds its lock until this transaction ends; a reader gets an answer
            # meanwhile (the rows as of the last committed refresh).
            await project_store.refresh_stats(refresher)
            served = await reader.fetchrow(
                "SELECT running FROM application_stats WHERE project_id = $1", project_id, timeout=2
            )
            assert served["running"] == 3
            async with reader.transaction():
                await reader.execute("SELECT set_config('app.all_projects', 'on', true)")
                assert (await project_store.stats(reader, project_id))["running"] == 3
        assert (
            await reader.fetchrow("SELECT running FROM application_stats WHERE project_id = $1", project_id)
        )["running"] == 7

        # The contrast: a plain REFRESH locks readers out until it commits.
        async with refresher.transaction():
            await refresher.execute("REFRESH MATERIALIZED VIEW application_stats")
            with pytest.raises(TimeoutError):
                await reader.fetchrow("SELECT 1 FROM application_stats LIMIT 1", timeout=0.5)


async def test_one_refresh_at_a_time_across_replicas(projects_pool):
    async with projects_pool.acquire() as other_replica, other_replica.transaction():
        await other_replica.execute("SELECT pg_advisory_xact_lock($1)", REFRESH_LOCK)
        assert not await refresh_once(projects_pool)
    assert await refresh_once(projects_pool)


def test_project_stats_follow_the_applications_on_the_running_platform(stack, people):
    project = create(stack, people.owner)
    project_id = uuid.UUID(project["id"])
    path = f"/v1/projects/{project_id}/stats"

    def served() -> dict:
        status, body = rest(stack.port, "GET", path, token=people.owner.token)
        assert status == 200, body
        return {name: int(body.get(name, 0)) for name in COUNTS}

    async def change_and_count(mix: dict[str, int]) -> dict:
        async with admin_database(stack, "projects") as pool, pool.acquire() as conn:
            await add_applications(conn, project_id, mix)
            return dict(await conn.fetchrow(LIVE_COUNTS, project_id))

    assert served() == dict.fromkeys(COUNTS, 0)
    live = asyncio.run(
        change_and_count({"running": 2, "stopped": 1, "failed": 1, "archived": 1, "scaling": 1})
    )
    assert live == {"total_applications": 5, "running": 2, "stopped": 1, "failed": 1}
    eventually(lambda: served() == live, timeout=10)
    live = asyncio.run(change_and_count({"failed": 2}))
    eventually(lambda: served() == live, timeout=10)
    assert rest(stack.port, "GET", path, token=people.unrelated.token)[0] == 404
