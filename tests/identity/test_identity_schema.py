"""The identity schema's own guarantees, at the SQL level: every seed constraint refuses bad values
(and the kit names the field), refusals change nothing, a team keeps an owner even under concurrent
demotions, and deletions cascade as the seed says."""

import asyncio

import asyncpg
import pytest

from dockyard_kit import errors

HASH = "$2b$12$" + "x" * 53


@pytest.fixture
def pool(identity_pool):
    return identity_pool


async def add_user(conn, username: str, email: str | None = None, role: str = "developer"):
    return await conn.fetchval(
        "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id",
        username,
        email or f"{username}@example.com",
        HASH,
        role,
    )


async def add_team(conn, name: str, *owners) -> object:
    team_id = await conn.fetchval("INSERT INTO teams (name) VALUES ($1) RETURNING id", name)
    for owner in owners:
        await conn.execute(
            "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')", team_id, owner
        )
    return team_id


async def snapshot(conn) -> dict:
    return {
        table: await conn.fetch(f"SELECT * FROM {table} ORDER BY id")
        for table in ("users", "teams", "team_members")
    }


@pytest.fixture
async def seeded(pool):
    """One user (alice), one team (core) that alice owns."""
    async with pool.acquire() as conn:
        alice = await add_user(conn, "alice")
        team = await add_team(conn, "core", alice)
    return {"alice": alice, "team": team}


# Each bad statement, the constraint that refuses it, and the field the kit names in its error.
BAD_STATEMENTS = [
    ("INSERT INTO users (username, email, password_hash) VALUES ('ab', 'ab@example.com', 'h')", "check_username_format", "username"),
    ("INSERT INTO users (username, email, password_hash) VALUES ('Bob', 'bob@example.com', 'h')", "check_username_format", "username"),
    (f"INSERT INTO users (username, email, password_hash) VALUES ('{'b' * 51}', 'b@example.com', 'h')", "check_username_format", "username"),
    ("INSERT INTO users (username, email, password_hash) VALUES ('bob', 'bob@example', 'h')", "check_email_format", "email"),
    ("INSERT INTO users (username, email, password_hash) VALUES ('bob', 'bob.example.com', 'h')", "check_email_format", "email"),
    ("INSERT INTO users (username, email, password_hash, role) VALUES ('bob', 'bob@example.com', 'h', 'root')", "check_user_role", "role"),
    ("INSERT INTO users (username, email, password_hash, preferences) VALUES ('bob', 'bob@example.com', 'h', '[]')", "check_preferences_object", "preferences"),
    ("INSERT INTO users (username, email, password_hash) VALUES ('alice', 'other@example.com', 'h')", "uq_users_username", "username"),
    ("INSERT INTO users (username, email, password_hash) VALUES ('bob', 'alice@example.com', 'h')", "uq_users_email", "email"),
    ("UPDATE users SET username = 'ALICE'", "check_username_format", "username"),
    ("UPDATE users SET role = 'owner'", "check_user_role", "role"),
    ("INSERT INTO teams (name) VALUES ('ab')", "check_team_name_length", "name"),
    (f"INSERT INTO teams (name) VALUES ('{'t' * 101}')", "check_team_name_length", "name"),
    ("INSERT INTO teams (name) VALUES ('core')", "uq_teams_name", "name"),
    ("INSERT INTO teams (name, settings) VALUES ('ops', '1')", "check_settings_object", "settings"),
    ("INSERT INTO team_members (team_id, user_id, role) SELECT team_id, user_id, 'member' FROM team_members", "uq_team_members_user_team", "user_id,team_id"),
    ("UPDATE team_members SET role = 'boss'", "check_team_member_role", "role"),
]  # fmt: skip


@pytest.mark.parametrize(("statement", "constraint", "field"), BAD_STATEMENTS)
async def test_a_bad_value_is_refused_with_its_field_named_and_changes_nothing(
    pool, seeded, statement, constraint, field
):
    async with pool.acquire() as conn:
        before = await snapshot(conn)
        with pytest.raises(asyncpg.IntegrityConstraintViolationError) as raised:
            await conn.execute(statement)
        assert raised.value.constraint_name == constraint
        error = await errors.from_database_error(raised.value, pool, errors.ConstraintFields())
        assert error.field == field
        assert await snapshot(conn) == before


async def test_emails_are_unique_whatever_their_case(pool, seeded):
    async with pool.acquire() as conn:
        before = await snapshot(conn)
        with pytest.raises(asyncpg.UniqueViolationError) as raised:
            await add_user(conn, "bob", "Alice@Example.COM")
        assert raised.value.constraint_name == "uq_users_email_lower"
        assert await snapshot(conn) == before


async def test_the_last_owner_can_be_neither_demoted_nor_removed(pool, seeded):
    async with pool.acquire() as conn:
        before = await snapshot(conn)
        for statement in (
            "UPDATE team_members SET role = 'admin' WHERE user_id = $1",
            "DELETE FROM team_members WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ):
            with pytest.raises(asyncpg.RestrictViolationError) as raised:
                await conn.execute(statement, seeded["alice"])
            assert raised.value.constraint_name == "team_keeps_an_owner"
            assert isinstance(
                await errors.from_database_error(raised.value, pool, errors.ConstraintFields()),
                errors.FailedPrecondition,
            )
        assert await snapshot(conn) == before


async def two_owned_team(pool) -> tuple[object, object, object]:
    async with pool.acquire() as conn:
        first, second = await add_user(conn, "first"), await add_user(conn, "second")
        return await add_team(conn, "pair", first, second), first, second


async def owners(pool, team_id) -> list:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT user_id FROM team_members WHERE team_id = $1 AND role = 'owner'", team_id
        )


async def test_two_concurrent_demotions_of_a_teams_two_owners_cannot_both_succeed(pool):
    """Both transactions open, both demote, both commit: exactly one of them may succeed."""
    team_id, first, second = await two_owned_team(pool)
    both_open = asyncio.Barrier(2)

    async def demote(owner):
        async with pool.acquire() as conn, conn.transaction():
            await both_open.wait()
            await conn.execute("UPDATE team_members SET role = 'member' WHERE user_id = $1", owner)

    results = await asyncio.gather(demote(first), demote(second), return_exceptions=True)
    refused = [result for result in results if isinstance(result, BaseException)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], asyncpg.RestrictViolationError)
    assert len(await owners(pool, team_id)) == 1


async def test_a_demotion_waits_for_the_concurrent_one_and_then_sees_it(pool):
    """The same race with its interleaving forced: the second demotion is issued while the first is
    uncommitted, waits for it (on the team's row), then finds no other owner and is refused."""
    team_id, first, second = await two_owned_team(pool)
    demote = "UPDATE team_members SET role = 'member' WHERE user_id = $1"
    async with pool.acquire() as one, pool.acquire() as two:
        first_transaction, second_transaction = one.transaction(), two.transaction()
        await first_transaction.start()
        await one.execute(demote, first)
        await second_transaction.start()
        second_demotion = asyncio.create_task(two.execute(demote, second))
        await wait_until_blocked(pool, two.get_server_pid(), second_demotion)
        assert not second_demotion.done(), "the second demotion did not wait for the first"
        await first_transaction.commit()
        with pytest.raises(asyncpg.RestrictViolationError):
            await second_demotion
        await second_transaction.rollback()
    assert [row["user_id"] for row in await owners(pool, team_id)] == [second]


async def wait_until_blocked(pool, pid: int, task: asyncio.Task) -> None:
    async with pool.acquire() as observer:
        for _ in range(200):
            if task.done():
                return
            if await observer.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.01)


async def test_deleting_a_team_deletes_its_members(pool):
    team_id, first, second = await two_owned_team(pool)
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM teams WHERE id = $1", team_id)
        assert await conn.fetchval("SELECT count(*) FROM team_members WHERE team_id = $1", team_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM users WHERE id = ANY($1)", [first, second]) == 2


async def test_deleting_a_co_owner_deletes_their_membership_and_keeps_the_team(pool):
    team_id, first, second = await two_owned_team(pool)
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM users WHERE id = $1", first)
    assert [row["user_id"] for row in await owners(pool, team_id)] == [second]
