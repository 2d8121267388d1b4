"""Users: first-run setup, the account rules and their races, the events they write, and UserService
through the real platform.

The races and the outbox are checked through the domain functions against PostgreSQL (one database
per test); what a client sees is checked on the whole stack, over gRPC through the gateway and
straight to identity, and over REST through the gateway."""

import asyncio
import json
import time

import grpc
import pytest
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from dockyard_kit.access import effective_caller
from dockyard_kit.errors import FailedPrecondition, PermissionDenied
from services.identity.domain import users
from tests.identity.matrix import update_email
from tests.identity.support import as_caller, create_people, outbox_events
from tests.support.accounts import (
    PASSWORD,
    Account,
    api_token_access,
    create_account,
    create_user,
    login,
    random_id,
)
from tests.support.calls import (
    DENIED,
    INVALID,
    OK,
    UNAUTHENTICATED,
    code_of,
    field_of,
    payload,
    rest,
    rpc_error,
)

# The bound for a disabled user's tokens to stop working everywhere, with room for a slow
# machine; re-enabling travels the same way.
DENY_LIST_DELAY_SECONDS = 5


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
    account = await users.current_account(identity_pool, as_caller(second))
    current = effective_caller(as_caller(second), account["role"])  # the token still says super_admin
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


# -- through the platform -----------------------------------------------------------------------


# The bad values of the seed's user constraints, each with the field the error names.
BAD_NEW_USERS = [
    ({"username": "ab"}, INVALID, "username"),
    ({"username": "Bob"}, INVALID, "username"),
    ({"username": "b" * 51}, INVALID, "username"),
    ({"email": "bob@example"}, INVALID, "email"),
    ({"email": "bob.example.com"}, INVALID, "email"),
    ({"role": "root"}, INVALID, "role"),
    ({"password": "too short"}, INVALID, "password"),
    ({"username": "dev1"}, grpc.StatusCode.ALREADY_EXISTS, "username"),
    ({"email": "DEV1@example.com"}, grpc.StatusCode.ALREADY_EXISTS, "email"),
]


def user_count(channel, people) -> int:
    users_stub = identity_pb2_grpc.UserServiceStub(channel)
    request = identity_pb2.ListUsersRequest(page_size=100)
    return len(users_stub.ListUsers(request, metadata=people.super_admin.metadata).users)


@pytest.mark.parametrize(("bad", "code", "field"), BAD_NEW_USERS)
def test_a_bad_new_user_gets_its_field_named_over_grpc_and_rest(
    people, identity_channel, stack, bad, code, field
):
    before = user_count(identity_channel, people)
    values = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD, **bad}
    error = rpc_error(
        identity_pb2_grpc.UserServiceStub(identity_channel).CreateUser,
        identity_pb2.CreateUserRequest(user=identity_pb2.User(**values)),
        people.super_admin.metadata,
    )
    assert (error.code(), field_of(error)) == (code, field), error.details()
    status, body = rest(stack.port, "POST", "/v1/users", values, people.super_admin.token)
    assert status == {INVALID: 400, grpc.StatusCode.ALREADY_EXISTS: 409}[code], body
    assert field in json.dumps(body["details"]), body
    assert user_count(identity_channel, people) == before


def test_malformed_ids_are_invalid_arguments_named_by_field(people, identity_channel, stack):
    error = rpc_error(
        identity_pb2_grpc.UserServiceStub(identity_channel).GetUser,
        identity_pb2.GetUserRequest(user_id="not-a-uuid"),
        people.super_admin.metadata,
    )
    assert (error.code(), field_of(error)) == (INVALID, "user_id")
    status, body = rest(stack.port, "GET", "/v1/users/not-a-uuid", token=people.super_admin.token)
    assert status == 400, body
    status, body = rest(stack.port, "GET", f"/v1/users/{random_id()}", token=people.super_admin.token)
    assert status == 404, body


def test_a_user_reads_and_edits_their_own_profile_over_rest(people, identity_channel, stack):
    me = create_account(identity_channel, people.super_admin, "selfie", "developer")
    status, body = rest(stack.port, "GET", "/v1/users/me", token=me.token)
    assert status == 200, body
    assert (body["username"], body["role"], body.get("password", "")) == ("selfie", "developer", "")
    status, body = rest(
        stack.port,
        "PATCH",
        f"/v1/users/{me.id}?update_mask=email,preferences",
        {"email": "Selfie@Example.org", "preferences": {"theme": "dark"}, "role": "admin"},
        me.token,
    )
    assert status == 200, body
    assert (body["email"], body["preferences"], body["role"]) == (
        "Selfie@Example.org",
        {"theme": "dark"},
        "developer",
    )
    # Without a mask, the fields the body sets are the ones to change (role among them: refused).
    status, body = rest(
        stack.port, "PATCH", f"/v1/users/{me.id}", {"username": "selfie2", "role": "admin"}, me.token
    )
    assert status == 403, body
    status, body = rest(stack.port, "PATCH", f"/v1/users/{me.id}", {"username": "selfie2"}, me.token)
    assert (status, body.get("username")) == (200, "selfie2"), body
    status, body = rest(stack.port, "PATCH", f"/v1/users/{me.id}?update_mask=created_at", {}, me.token)
    assert status == 400 and "update_mask" in json.dumps(body), body


def test_changing_ones_own_password_takes_the_current_one(people, identity_channel):
    me = create_account(identity_channel, people.super_admin, "rotator", "developer")
    update = identity_pb2_grpc.UserServiceStub(identity_channel).UpdateUser
    new_password = "a much better passphrase"

    def change(old_password: str, metadata=me.metadata):
        request = identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=me.id, password=new_password),
            update_mask=field_mask_pb2.FieldMask(paths=["password"]),
            old_password=old_password,
        )
        return update(request, metadata=metadata, timeout=30)

    for wrong in ("", "not the password"):
        with pytest.raises(grpc.RpcError) as raised:
            change(wrong)
        assert (raised.value.code(), field_of(raised.value)) == (INVALID, "old_password")
    auth = identity_pb2_grpc.AuthServiceStub(identity_channel)
    session = auth.Login(identity_pb2.LoginRequest(username="rotator", password=PASSWORD), timeout=30)
    change(PASSWORD)
    assert login(identity_channel, "rotator", new_password)
    # The session signed in with the old password ended with the change.
    with pytest.raises(grpc.RpcError) as ended:
        auth.Refresh(identity_pb2.RefreshRequest(refresh_token=session.refresh_token), timeout=30)
    assert ended.value.code() == UNAUTHENTICATED
    with pytest.raises(grpc.RpcError):
        login(identity_channel, "rotator", PASSWORD)
    # An admin resets someone else's password without knowing it.
    new_password = "reset by an admin, twelve+"
    change("", people.admin.metadata)
    assert login(identity_channel, "rotator", new_password)


def set_role(channel, actor: Account, target_id: str, role: str) -> grpc.StatusCode:
    request = identity_pb2.UpdateUserRequest(
        user=identity_pb2.User(id=target_id, role=role), update_mask=field_mask_pb2.FieldMask(paths=["role"])
    )
    return code_of(identity_pb2_grpc.UserServiceStub(channel).UpdateUser, request, actor.metadata)


def test_roles_change_by_admins_and_admin_roles_by_a_super_admin_only(people, identity_channel):
    target = create_user(identity_channel, people.super_admin, "climber", "viewer")
    read_write_admin_token = api_token_access(identity_channel, people.admin, "ci-write", scope="read_write")
    assert set_role(identity_channel, people.admin, target.id, "developer") == OK
    assert set_role(identity_channel, people.admin, target.id, "admin") == DENIED
    assert set_role(identity_channel, read_write_admin_token, target.id, "viewer") == DENIED
    assert set_role(identity_channel, people.developer, target.id, "viewer") == DENIED
    assert set_role(identity_channel, people.super_admin, target.id, "admin") == OK
    assert set_role(identity_channel, people.admin, target.id, "developer") == DENIED  # an admin now
    assert set_role(identity_channel, people.super_admin, target.id, "boss") == INVALID
    assert set_role(identity_channel, people.super_admin, people.super_admin.id, "admin") == DENIED
    assert set_role(identity_channel, people.admin, people.admin.id, "super_admin") == DENIED
    assert set_role(identity_channel, people.super_admin, target.id, "developer") == OK


def test_an_admin_cannot_act_on_admin_accounts(people, identity_channel):
    other_admin = create_user(identity_channel, people.super_admin, "admin2", "admin")
    stub = identity_pb2_grpc.UserServiceStub(identity_channel)
    for method, request in (
        (stub.DisableUser, identity_pb2.DisableUserRequest(user_id=other_admin.id)),
        (stub.DeleteUser, identity_pb2.DeleteUserRequest(user_id=other_admin.id)),
        (stub.UpdateUser, update_email(people, other_admin)),
        (stub.DisableUser, identity_pb2.DisableUserRequest(user_id=people.super_admin.id)),
    ):
        assert code_of(method, request, people.admin.metadata) == DENIED
    assert (
        code_of(
            stub.DeleteUser,
            identity_pb2.DeleteUserRequest(user_id=other_admin.id),
            people.super_admin.metadata,
        )
        == OK
    )


def test_the_last_super_admin_cannot_be_disabled_or_deleted(people, identity_channel):
    stub = identity_pb2_grpc.UserServiceStub(identity_channel)
    super_admins = stub.ListUsers(
        identity_pb2.ListUsersRequest(role="super_admin"), metadata=people.super_admin.metadata
    )
    assert [user.username for user in super_admins.users] == ["root"]
    for method, request in (
        (stub.DisableUser, identity_pb2.DisableUserRequest(user_id=people.super_admin.id)),
        (stub.DeleteUser, identity_pb2.DeleteUserRequest(user_id=people.super_admin.id)),
    ):
        error = rpc_error(method, request, people.super_admin.metadata)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "last active super_admin" in error.details()
    assert (
        stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=people.super_admin.metadata).role
        == "super_admin"
    )


def test_a_disabled_user_is_refused_until_enabled_again(people, identity_channel, gateway_channel):
    account = create_account(identity_channel, people.super_admin, "sleepy", "developer")
    stub = identity_pb2_grpc.UserServiceStub(identity_channel)
    disabled = stub.DisableUser(
        identity_pb2.DisableUserRequest(user_id=account.id), metadata=people.admin.metadata
    )
    assert disabled.disabled
    for channel in (identity_channel, gateway_channel):
        me = identity_pb2_grpc.UserServiceStub(channel).GetCurrentUser
        assert code_of(me, identity_pb2.GetCurrentUserRequest(), account.metadata) == UNAUTHENTICATED
    with pytest.raises(grpc.RpcError):
        login(identity_channel, "sleepy")
    enabled = stub.EnableUser(
        identity_pb2.EnableUserRequest(user_id=account.id), metadata=people.admin.metadata
    )
    assert not enabled.disabled
    # Identity refuses a disabled account at once (it reads the account); the deny-list every
    # service keeps learns of the re-enabling from the event, within its propagation delay.
    fresh = Account(enabled, login(identity_channel, "sleepy"))
    deadline = time.monotonic() + DENY_LIST_DELAY_SECONDS
    while code_of(stub.GetCurrentUser, identity_pb2.GetCurrentUserRequest(), fresh.metadata) != OK:
        assert time.monotonic() < deadline, "the re-enabled user is still refused"
        time.sleep(0.05)


def test_deleting_the_only_owner_of_a_team_is_refused_with_a_clear_message(people, identity_channel):
    stub = identity_pb2_grpc.UserServiceStub(identity_channel)
    error = rpc_error(
        stub.DeleteUser, identity_pb2.DeleteUserRequest(user_id=people.owner.id), people.super_admin.metadata
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "a team must keep at least one owner" in error.details()
    assert stub.GetUser(
        identity_pb2.GetUserRequest(user_id=people.owner.id), metadata=people.super_admin.metadata
    )


def test_list_users_pages_by_username_and_filters(people, identity_channel):
    for name in ("pg-c", "pg-a", "pg-e", "pg-b", "pg-d"):
        create_user(identity_channel, people.super_admin, name, "viewer")
    stub = identity_pb2_grpc.UserServiceStub(identity_channel)

    def list_users(**fields):
        return stub.ListUsers(
            identity_pb2.ListUsersRequest(**fields), metadata=people.admin.metadata, timeout=30
        )

    seen, token = [], ""
    while True:
        page = list_users(prefix="PG-", page_size=2, page_token=token)
        assert len(page.users) <= 2
        seen += [user.username for user in page.users]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"]
    assert [user.username for user in list_users(prefix="pg-d@").users] == ["pg-d"]  # an email prefix
    assert [user.username for user in list_users(prefix="pg_").users] == []  # "_" is no wildcard
    assert {user.role for user in list_users(role="viewer").users} == {"viewer"}
    crew = [user.username for user in list_users(team_id=people.crew.id).users]
    assert {"owner1", "member1"} <= set(crew) and crew == sorted(crew)
    for fields, field in (
        ({"page_size": 101}, "page_size"),
        ({"page_size": -1}, "page_size"),
        ({"page_token": "garbage"}, "page_token"),
        (
            {"page_token": list_users(prefix="pg-", page_size=1).next_page_token, "prefix": "pg-b"},
            "page_token",
        ),
        ({"role": "root"}, "role"),
        ({"team_id": "crew"}, "team_id"),
    ):
        error = rpc_error(stub.ListUsers, identity_pb2.ListUsersRequest(**fields), people.admin.metadata)
        assert (error.code(), field_of(error)) == (INVALID, field), fields
