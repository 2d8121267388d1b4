"""Row-level security on projects.projects, at the SQL level, as the projects service's own role
(FORCE ROW LEVEL SECURITY: the table's owner is bound by the policies too). Each check runs in a
transaction that says who is asking, as store/session.py does for every RPC."""

import contextlib
import uuid

import asyncpg
import pytest

OWNER, MEMBER, STRANGER, OTHER_OWNER = (uuid.uuid4() for _ in range(4))
TEAM = uuid.uuid4()


@contextlib.asynccontextmanager
async def as_user(pool, user_id: uuid.UUID | None, *, all_projects: bool = False):
    """A transaction as `user_id` (None: app.user_id never set), rolled back at the end."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            if user_id is not None:
                await conn.execute("SELECT set_config('app.user_id', $1, true)", str(user_id))
            if all_projects:
                await conn.execute("SELECT set_config('app.all_projects', 'on', true)")
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
async def project(projects_pool) -> uuid.UUID:
    """OWNER's project in TEAM, MEMBER a member of TEAM, and OTHER_OWNER's project in no team."""
    async with projects_pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.all_projects', 'on', true)")
        await conn.execute(
            "INSERT INTO team_members (team_id, user_id, membership_id, role) VALUES ($1, $2, $3, 'member')",
            TEAM,
            MEMBER,
            uuid.uuid4(),
        )
        await conn.execute("INSERT INTO projects (owner_id, name) VALUES ($1, 'elsewhere')", OTHER_OWNER)
        return await conn.fetchval(
            "INSERT INTO projects (owner_id, name, team_id) VALUES ($1, 'shop', $2) RETURNING id", OWNER, TEAM
        )


async def visible(conn) -> set[str]:
    return {row["name"] for row in await conn.fetch("SELECT name FROM projects")}


async def deleted(conn, project_id) -> int:
    return int((await conn.execute("DELETE FROM projects WHERE id = $1", project_id)).split()[-1])


async def test_the_owner_sees_and_deletes_their_project(projects_pool, project):
    async with as_user(projects_pool, OWNER) as conn:
        assert await visible(conn) == {"shop"}
        assert await deleted(conn, project) == 1


async def test_a_team_member_sees_the_project_but_cannot_delete_it(projects_pool, project):
    async with as_user(projects_pool, MEMBER) as conn:
        assert await visible(conn) == {"shop"}
        assert await deleted(conn, project) == 0
        assert await visible(conn) == {"shop"}


async def test_a_stranger_sees_nothing_and_deletes_nothing(projects_pool, project):
    async with as_user(projects_pool, STRANGER) as conn:
        assert await visible(conn) == set()
        assert await deleted(conn, project) == 0
        updated = await conn.execute("UPDATE projects SET description = 'x' WHERE id = $1", project)
        assert updated == "UPDATE 0"


async def test_without_app_user_id_nothing_is_visible(projects_pool, project):
    async with as_user(projects_pool, None) as conn:
        assert await visible(conn) == set()
        assert await deleted(conn, project) == 0


async def test_an_empty_app_user_id_sees_nothing(projects_pool, project):
    """The service's own transactions set app.user_id to '' (store/session.as_platform): never a match."""
    async with as_user(projects_pool, None) as conn:
        await conn.execute("SELECT set_config('app.user_id', '', true)")
        assert await visible(conn) == set()


async def test_all_projects_sees_everything(projects_pool, project):
    async with as_user(projects_pool, STRANGER, all_projects=True) as conn:
        assert await visible(conn) == {"shop", "elsewhere"}
        assert await deleted(conn, project) == 1


async def test_inserting_a_project_for_another_owner_is_refused(projects_pool, project):
    async with as_user(projects_pool, STRANGER) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute("INSERT INTO projects (owner_id, name) VALUES ($1, 'hijack')", OWNER)
    async with as_user(projects_pool, STRANGER) as conn:
        await conn.execute("INSERT INTO projects (owner_id, name) VALUES ($1, 'mine')", STRANGER)
        assert await visible(conn) == {"mine"}


async def test_the_settings_last_only_for_the_transaction(projects_pool, project):
    async with projects_pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', $1, true)", str(OWNER))
            assert await visible(conn) == {"shop"}
        assert await visible(conn) == set()
