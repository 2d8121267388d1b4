"""db.SessionPool against real PostgreSQL, on a pool of one connection so that every acquire gets
the same one: the settings a read states are the ones it runs with, a connection that has them
already gets no set_config, a transaction left open is rolled back, a failed set_config leaves the
connection unmarked; and row-level security on projects through it (store/session.caller_reads)."""

import asyncio
import uuid

import asyncpg
import pytest

from dockyard_kit import db
from dockyard_kit.auth import Caller
from dockyard_kit.errors import NotFound
from services.projects.domain.projects import get_project
from services.projects.store.session import caller_reads
from tests.projects import test_row_level_security
from tests.projects.test_row_level_security import MEMBER, OWNER, STRANGER, visible

A, B = str(uuid.uuid4()), str(uuid.uuid4())

# The fixture: OWNER's project in a team MEMBER is in, and another owner's project in none.
project = test_row_level_security.project


@pytest.fixture
async def session_pool(settings, projects_pool) -> db.SessionPool:
    """The projects service's session pool (schema at head), of one connection."""
    pool = await db.create_session_pool(settings.model_copy(update={"DOCKYARD_DB_POOL_MAX": 1}), "projects")
    try:
        yield pool
    finally:
        await pool.close()


class Statements:
    """The statements a connection runs, through asyncpg's query loggers."""

    def __init__(self, conn) -> None:
        self.queries: list[str] = []
        conn.add_query_logger(self._record)

    def _record(self, record) -> None:
        self.queries.append(record.query)

    async def set_configs(self) -> int:
        await asyncio.sleep(0)  # loggers are called soon after the statement, not during it
        return sum("set_config" in query for query in self.queries)


async def current(conn, name: str) -> str | None:
    return await conn.fetchval("SELECT current_setting($1, true)", name)


async def test_a_read_runs_with_the_settings_it_states(session_pool):
    async with session_pool.acquire({"app.user_id": A}) as conn:
        assert await current(conn, "app.user_id") == A
        assert conn.kept_settings() == (("app.user_id", A),)


async def test_the_same_settings_again_cost_no_statement(session_pool):
    async with session_pool.acquire({"app.user_id": A, "app.all_projects": "off"}) as conn:
        server_pid = conn.get_server_pid()
        statements = Statements(conn)

    # The same settings, stated in another order.
    async with session_pool.acquire({"app.all_projects": "off", "app.user_id": A}) as conn:
        assert conn.get_server_pid() == server_pid
        assert await statements.set_configs() == 0
        assert await current(conn, "app.user_id") == A


async def test_other_settings_replace_the_kept_ones(session_pool):
    async with session_pool.acquire({"app.user_id": A}) as conn:
        server_pid = conn.get_server_pid()
        statements = Statements(conn)

    async with session_pool.acquire({"app.user_id": B}) as conn:
        assert conn.get_server_pid() == server_pid
        assert await statements.set_configs() == 1
        assert await current(conn, "app.user_id") == B
        assert conn.kept_settings() == (("app.user_id", B),)


async def test_settings_a_read_does_not_state_are_not_left_from_an_earlier_one(session_pool):
    """The class's promise: no read ever runs with another's settings, even one that states fewer."""
    async with session_pool.acquire({"app.user_id": A, "app.all_projects": "on"}):
        pass

    async with session_pool.acquire({"app.user_id": B}) as conn:
        assert await current(conn, "app.all_projects") in (None, "")


async def test_a_transaction_left_open_is_rolled_back_on_release(session_pool):
    settings = {"app.user_id": A}
    async with session_pool.acquire(settings) as conn:
        await conn.execute("CREATE TEMP TABLE scratch (n int)")

    async with session_pool.acquire(settings) as conn:
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO scratch VALUES (1)")

    async with session_pool.acquire(settings) as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM scratch") == 0
        # The settings outlive the rollback: they were set outside that transaction.
        assert await current(conn, "app.user_id") == A


async def test_a_failed_set_config_leaves_the_connection_unmarked(session_pool):
    failing = {"app.user_id": B, "bad name": "x"}
    async with session_pool.acquire({"app.user_id": A}) as conn:
        statements = Statements(conn)

    for _ in range(2):  # not marked as having the settings that failed: tried again, fails again
        with pytest.raises(asyncpg.PostgresError):
            async with session_pool.acquire(failing):
                pass
        async with session_pool.pool.acquire() as raw:  # the connection as it is, nothing stated
            assert raw.kept_settings() is None  # nor marked as still having the ones before

    async with session_pool.acquire({"app.user_id": A}) as conn:
        assert await statements.set_configs() == 3
        assert await current(conn, "app.user_id") == A


# -- row-level security through caller_reads --------------------------------------------------------


def caller(user_id: uuid.UUID, role: str = "developer") -> Caller:
    return Caller(user_id=str(user_id), role=role)


async def test_each_read_sees_the_projects_of_its_own_caller(session_pool, project):
    async with caller_reads(session_pool, caller(STRANGER)) as conn:
        server_pid = conn.get_server_pid()
        assert await visible(conn) == set()
    async with caller_reads(session_pool, caller(OWNER)) as conn:
        assert await visible(conn) == {"shop"}
    async with caller_reads(session_pool, caller(MEMBER)) as conn:
        assert await visible(conn) == {"shop"}
    # The same connection, back to the stranger: the kept settings really changed.
    async with caller_reads(session_pool, caller(STRANGER)) as conn:
        assert conn.get_server_pid() == server_pid
        assert await visible(conn) == set()


async def test_an_admins_read_does_not_leave_all_projects_on(session_pool, project):
    async with caller_reads(session_pool, caller(STRANGER, "admin")) as conn:
        assert await visible(conn) == {"shop", "elsewhere"}
    async with caller_reads(session_pool, caller(STRANGER)) as conn:
        assert await visible(conn) == set()


async def test_get_project_through_the_session_pool(session_pool, project):
    assert (await get_project(session_pool, caller(OWNER), project))["name"] == "shop"
    with pytest.raises(NotFound):
        await get_project(session_pool, caller(STRANGER), project)
    assert (await get_project(session_pool, caller(OWNER), project))["name"] == "shop"
