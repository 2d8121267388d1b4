"""Identity's caller has the lesser of the token's role and the account's role now
(dockyard_kit.access): a demotion applies to the next call; a promotion gives an old token nothing,
only a token issued after it."""

import pytest
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.support.accounts import Account, create_account, login, random_id
from tests.support.calls import DENIED, OK, TIMEOUT, code_of

# Listing every user is for platform admins only.
LIST_ALL = identity_pb2.ListUsersRequest()


@pytest.fixture(scope="module")
def users(identity_channel):
    return identity_pb2_grpc.UserServiceStub(identity_channel)


def change_role(users, people, account: Account, role: str) -> None:
    users.UpdateUser(
        identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=account.id, role=role),
            update_mask=field_mask_pb2.FieldMask(paths=["role"]),
        ),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )


def test_a_promotion_does_not_widen_an_old_token(people, users, identity_channel):
    developer = create_account(identity_channel, people.super_admin, f"p{random_id()[:8]}", "developer")
    assert code_of(users.ListUsers, LIST_ALL, developer.metadata) == DENIED

    change_role(users, people, developer, "admin")
    assert code_of(users.ListUsers, LIST_ALL, developer.metadata) == DENIED

    promoted = Account(developer.user, login(identity_channel, developer.user.username))
    assert code_of(users.ListUsers, LIST_ALL, promoted.metadata) == OK


def test_a_demotion_applies_to_an_old_token_at_once(people, users, identity_channel):
    admin = create_account(identity_channel, people.super_admin, f"d{random_id()[:8]}", "admin")
    assert code_of(users.ListUsers, LIST_ALL, admin.metadata) == OK

    change_role(users, people, admin, "developer")
    assert code_of(users.ListUsers, LIST_ALL, admin.metadata) == DENIED
