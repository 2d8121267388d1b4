"""The kit's read model of identity (dockyard_kit/identity_read_model.py) in a schema of its own,
against real PostgreSQL and NATS: its tables are the ones projects' migration 0003 makes, and its
consumer keeps users' roles and team memberships from identity's events, runs the service's hooks
in the event's transaction before it forgets a user or team, and makes the runtime's memo forget a
user's role once the change has committed."""

import asyncio
import importlib
import re
import types
import uuid

import asyncpg
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2, identity_pb2
from dockyard_kit import db, identity_read_model
from dockyard_kit.access import CurrentRoles
from dockyard_kit.events import NatsLink, create_event_tables, new_event
from dockyard_kit.kit_migrations.identity_read_model_tables import create_identity_read_model_tables
from dockyard_kit.migrations import service_engine
from tests.events.support import running
from tests.support.database import drop_service_role
from tests.support.waiting import eventually_async

# Projects' migration, whose tables the kit's must equal (a module name that starts with a digit).
projects_0003 = importlib.import_module("services.projects.migrations.versions.0003_projects_model")

# The service whose schema the tests use. Roles are cluster-wide, so the role is dropped afterwards.
SERVICE = "readmodelkit"


def _make_tables(op: Operations, schema: str) -> None:
    create_event_tables(op, schema)
    create_identity_read_model_tables(op, schema)


@pytest.fixture
async def read_model_settings(settings, nats_server):
    await db.bootstrap_service_role(settings, SERVICE)
    engine = service_engine(settings, SERVICE)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync: _make_tables(Operations(MigrationContext.configure(sync)), SERVICE)
            )
    finally:
        await engine.dispose()
    yield settings.model_copy(update={"NATS_URL": nats_server.url})
    await drop_service_role(settings, SERVICE)


@pytest.fixture
async def pool(read_model_settings) -> asyncpg.Pool:
    pool = await db.create_pool(read_model_settings, SERVICE)
    yield pool
    await pool.close()


@pytest.fixture
async def link(read_model_settings) -> NatsLink:
    link = NatsLink(
        read_model_settings.NATS_URL, read_model_settings.DOCKYARD_EVENTS_STREAM, name="read-model-test"
    )
    link.start()
    await asyncio.wait_for(link.wait_connected(), 10)
    await link.ensure_stream()
    yield link
    await link.close()


# -- the tables ------------------------------------------------------------------------------------

TABLES = ("team_members", "user_roles")
SHAPE = {
    "columns": "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,"
    " column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2)",
    "constraints": "SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE connamespace = $1::regnamespace AND conrelid::regclass::text = ANY($2)",
    "indexes": "SELECT tablename, indexname, replace(indexdef, $1 || '.', '') FROM pg_indexes"
    " WHERE schemaname = $1 AND tablename = ANY($2)",
}


async def _shape(conn: asyncpg.Connection, schema: str) -> dict[str, set[tuple]]:
    await conn.execute(f"SET search_path = {schema}")  # regclass names the tables without their schema
    return {
        kind: {tuple(row) for row in await conn.fetch(query, schema, list(TABLES))}
        for kind, query in SHAPE.items()
    }


async def test_the_tables_are_the_ones_projects_migration_0003_makes(read_model_settings):
    makes_them = re.compile(rf"CREATE (TABLE|INDEX \w+ ON) projects\.({'|'.join(TABLES)}) ")
    statements = [s for s in projects_0003.UPGRADE if makes_them.search(s)]
    assert len(statements) == 3  # the two tables and the index on team_members.user_id
    admin = await db.connect_admin(read_model_settings)
    try:
        await admin.execute("CREATE SCHEMA projects_0003")
        for statement in statements:
            await admin.execute(statement.replace("projects.", "projects_0003."))
        theirs = await _shape(admin, "projects_0003")
        ours = await _shape(admin, SERVICE)
    finally:
        await admin.execute("DROP SCHEMA IF EXISTS projects_0003 CASCADE")
        await admin.close()
    assert len(ours["columns"]) == 8 and len(ours["indexes"]) == 3
    named = {"team_members_pkey", "user_roles_pkey", "check_team_member_role", "check_user_role"}
    assert named <= {name for _, name, *_ in ours["constraints"]}
    assert ours == theirs


# -- the consumer ----------------------------------------------------------------------------------

TEAM = str(uuid.uuid4())


def user_event(verb: str, user_id: str, role: str = "") -> Event:
    payload = events_pb2.UserChanged(user=identity_pb2.User(id=user_id, role=role))
    return new_event("identity", "user", verb, user_id, payload)


def member_event(verb: str, membership_id: str, user_id: str, role: str) -> Event:
    member = identity_pb2.TeamMember(id=membership_id, team_id=TEAM, user_id=user_id, role=role)
    return new_event(
        "identity", "team_member", verb, membership_id, events_pb2.TeamMemberChanged(member=member)
    )


async def publish(link: NatsLink, *events: Event) -> None:
    for event in events:
        await link.js.publish(event.subject, event.SerializeToString(), stream=link.stream)


def test_the_consumer_follows_every_change_of_users_and_memberships_and_team_deletions():
    assert identity_read_model.SUBJECTS == [
        "dockyard.identity.user.created",
        "dockyard.identity.user.updated",
        "dockyard.identity.user.role_changed",
        "dockyard.identity.user.enabled",
        "dockyard.identity.user.disabled",
        "dockyard.identity.user.deleted",
        "dockyard.identity.team.deleted",
        "dockyard.identity.team_member.added",
        "dockyard.identity.team_member.role_changed",
        "dockyard.identity.team_member.removed",
    ]


async def test_the_read_model_follows_identity_and_the_service_cascades_before_it_forgets(pool, link):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    alice_membership, bob_membership = str(uuid.uuid4()), str(uuid.uuid4())
    # A memo that never expires by itself: only the consumer's forget makes it read again.
    runtime = types.SimpleNamespace(pool=pool, nats=link, current_roles=CurrentRoles(ttl=3600))
    seen: list[tuple] = []

    async def prepare(conn):
        await conn.execute("SELECT set_config('readmodel.prepared', 'yes', true)")

    async def on_user_deleted(conn, user_id):
        # Same transaction, after prepare, before the read model forgets the user.
        prepared = await conn.fetchval("SELECT current_setting('readmodel.prepared', true)")
        role = await conn.fetchval("SELECT role FROM user_roles WHERE user_id = $1", user_id)
        seen.append(
            (
                "user deleted",
                user_id,
                prepared,
                role,
                await identity_read_model.team_role(conn, uuid.UUID(TEAM), str(user_id)),
            )
        )

    async def on_team_deleted(conn, team_id):
        prepared = await conn.fetchval("SELECT current_setting('readmodel.prepared', true)")
        seen.append(
            ("team deleted", team_id, prepared, await identity_read_model.team_role(conn, team_id, bob))
        )

    async def current_role(user_id: str):
        return await identity_read_model.current_role(pool, user_id)

    async def team_role(user_id: str):
        async with pool.acquire() as conn:
            return await identity_read_model.team_role(conn, uuid.UUID(TEAM), user_id)

    async def memo_role(user_id: str):
        return await runtime.current_roles.get(user_id, lambda: current_role(user_id))

    consumer = identity_read_model.consumer(
        runtime, "identity", on_user_deleted=on_user_deleted, on_team_deleted=on_team_deleted, prepare=prepare
    )
    async with running(consumer.run()):
        await publish(
            link,
            user_event("created", alice, "developer"),
            user_event("created", bob, "admin"),
            member_event("added", alice_membership, alice, "member"),
            member_event("added", bob_membership, bob, "admin"),
        )
        await eventually_async(lambda: team_role(bob), 10, "bob's membership read")
        assert (await current_role(alice), await current_role(bob)) == ("developer", "admin")
        assert (await team_role(alice), await team_role(bob)) == ("member", "admin")
        assert await memo_role(alice) == "developer"

        # A demotion reaches the memo once it has committed.
        await publish(link, user_event("role_changed", alice, "viewer"))
        await eventually_async(lambda: _is(memo_role(alice), "viewer"), 10, "alice's demotion in the memo")

        # A late removal of an older membership of the same pair leaves the current one alone.
        await publish(
            link,
            member_event("removed", str(uuid.uuid4()), alice, "member"),
            member_event("role_changed", alice_membership, alice, "owner"),
        )
        await eventually_async(lambda: _is(team_role(alice), "owner"), 10, "alice's new team role")

        await publish(link, user_event("deleted", alice))
        await eventually_async(lambda: _is(memo_role(alice), None), 10, "alice forgotten")
        assert await team_role(alice) is None

        team_deleted = new_event(
            "identity", "team", "deleted", TEAM, events_pb2.TeamChanged(team=identity_pb2.Team(id=TEAM))
        )
        await publish(link, team_deleted)
        await eventually_async(lambda: _is(team_role(bob), None), 10, "the team forgotten")
        assert await current_role(bob) == "admin"  # a team's deletion leaves its members' roles

        await publish(link, member_event("removed", bob_membership, bob, "admin"))  # already gone: a no-op
        await eventually_async(lambda: _inbox_has(pool, 10), 10, "every event applied")

    assert seen == [
        ("user deleted", uuid.UUID(alice), "yes", "viewer", "owner"),
        ("team deleted", uuid.UUID(TEAM), "yes", "admin"),
    ]


async def _is(value, expected) -> bool:
    return await value == expected


async def _inbox_has(pool: asyncpg.Pool, count: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'identity'") == count
