"""Users: first-run setup, the account rules and their races, and the events they write, checked
through the domain functions against PostgreSQL (one database per test)."""

import asyncio

import pytest

from dockyard.identity.v1 import events_pb2
from dockyard_kit.errors import FailedPrecondition, PermissionDenied
from services.identity.domain import users
from tests.identity.accounts import PASSWORD, as_caller, create_people, outbox_events, payload

# -- against the database -----------------------------------------------------------------------


async def two_super_admins(pool):
    return await create_people(pool, "first", "second", role="super_admin")


async def test_two_concurrent_setups_create_one_super_admin(identity_pool):
    results = await asyncio.gather(
        users.create_first_super_admin(identity_pool, "alice", "alice@example.com", PASSWORD),
        users.create_first_super_admin(identity_pool, "bob", "bob@example.com", PASSWORD),
        return_exceptions=True,
    )
    created = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, BaseException)]
    assert len(created) == 1 and created[0]["role"] == "super_admin"
    assert len(refused) == 1 and isinstance(refused[0], FailedPrecondition), refused
    events = await outbox_events(identity_pool)
    assert [event.type for event in events] == ["identity.user.created"]
    user = payload(events[0], events_pb2.UserChanged).user
    assert user.username == created[0]["username"] and not user.password
    assert events[0].actor_user_id == str(created[0]["id"])
    assert b"$2b$" not in events[0].SerializeToString()


@pytest.mark.parametrize(
    "take_away",
    [
        pytest.param(
            lambda pool, by, target: users.update_user(
                pool, by, target["id"], {"role": "admin"}, old_password=""
            ),
            id="demote",
        ),
        pytest.param(lambda pool, by, target: users.set_disabled(pool, by, target["id"], True), id="disable"),
        pytest.param(lambda pool, by, target: users.delete_user(pool, by, target["id"]), id="delete"),
    ],
)
async def test_two_super_admins_acting_on_each_other_at_once_leave_one(identity_pool, take_away):
    first, second = await two_super_admins(identity_pool)
    results = await asyncio.gather(
        take_away(identity_pool, as_caller(first), second),
        take_away(identity_pool, as_caller(second), first),
        return_exceptions=True,
    )
    refused = [result for result in results if isinstance(result, BaseException)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], FailedPrecondition) and "last active super_admin" in refused[0].message
    async with identity_pool.acquire() as conn:
        remaining = "SELECT count(*) FROM users WHERE role = 'super_admin' AND disabled_at IS NULL"
        assert await conn.fetchval(remaining) == 1


async def test_a_demoted_admin_loses_their_powers_before_their_token_expires(identity_pool):
    first, second = await two_super_admins(identity_pool)
    await users.update_user(
        identity_pool, as_caller(first), second["id"], {"role": "developer"}, old_password=""
    )
    current = await users.with_current_role(
        identity_pool, as_caller(second)
    )  # the token still says super_admin
    assert current.role == "developer"
    with pytest.raises(PermissionDenied):
        await users.create_user(
            identity_pool,
            current,
            username="sleeper",
            email="sleeper@example.com",
            password=PASSWORD,
            role="super_admin",
            preferences={},
        )


async def test_every_change_writes_its_event_and_a_refused_one_none(identity_pool):
    first, second = await two_super_admins(identity_pool)
    actor = as_caller(first)
    await users.update_user(
        identity_pool, actor, second["id"], {"email": "2nd@example.com", "role": "admin"}, old_password=""
    )
    await users.set_disabled(identity_pool, actor, second["id"], True)
    await users.set_disabled(identity_pool, actor, second["id"], True)  # already so: no event
    await users.set_disabled(identity_pool, actor, second["id"], False)
    with pytest.raises(FailedPrecondition):
        await users.delete_user(identity_pool, as_caller(second), first["id"])
    await users.delete_user(identity_pool, actor, second["id"])
    events = await outbox_events(identity_pool)
    assert [event.type for event in events] == [
        "identity.user.created",
        "identity.user.created",
        "identity.user.updated",
        "identity.user.role_changed",
        "identity.user.disabled",
        "identity.user.enabled",
        "identity.user.deleted",
    ]
    role_changed = payload(events[3], events_pb2.UserChanged)
    assert (role_changed.previous_role, role_changed.user.role) == ("super_admin", "admin")
    assert payload(events[2], events_pb2.UserChanged).user.email == "2nd@example.com"
    assert payload(events[4], events_pb2.UserChanged).user.disabled
    assert {event.actor_user_id for event in events[2:]} == {str(first["id"])}
