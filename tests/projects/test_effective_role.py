"""The projects service's caller has the lesser of the token's role and the role its read model of
identity's users holds (dockyard_kit.access): a demotion applies as soon as the read model hears of
it; a promotion gives an old token nothing, only a token issued after it."""

import asyncio
import uuid

import pytest
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from tests.support.accounts import Account, create_account, login
from tests.support.calls import NOT_FOUND, OK, TIMEOUT, code_of
from tests.support.database import admin_database
from tests.support.resources import unique
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def projects(projects_channel):
    return projects_pb2_grpc.ProjectServiceStub(projects_channel)


def change_role(identity_channel, people, account: Account, role: str) -> None:
    identity_pb2_grpc.UserServiceStub(identity_channel).UpdateUser(
        identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=account.id, role=role),
            update_mask=field_mask_pb2.FieldMask(paths=["role"]),
        ),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )


def read_model_role(stack, user_id: str) -> str | None:
    async def fetch():
        async with admin_database(stack, "projects") as admin:
            return await admin.fetchval("SELECT role FROM user_roles WHERE user_id = $1", uuid.UUID(user_id))

    return asyncio.run(fetch())


def someone_elses_project(projects, people) -> projects_pb2.GetProjectRequest:
    """A project of the super_admin's in no team: only platform admins see it."""
    project = projects.CreateProject(
        projects_pb2.CreateProjectRequest(project=projects_pb2.Project(name=unique("role-"))),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    return projects_pb2.GetProjectRequest(project_id=project.id)


def test_a_promotion_does_not_widen_an_old_token(stack, people, projects, identity_channel):
    developer = create_account(identity_channel, people.super_admin, unique("promo"), "developer")
    request = someone_elses_project(projects, people)
    assert code_of(projects.GetProject, request, developer.metadata) == NOT_FOUND

    change_role(identity_channel, people, developer, "admin")
    # Once the read model says admin, the old token (which says developer) still sees no more.
    eventually(lambda: read_model_role(stack, developer.id) == "admin")
    assert code_of(projects.GetProject, request, developer.metadata) == NOT_FOUND

    promoted = Account(developer.user, login(identity_channel, developer.user.username))
    assert code_of(projects.GetProject, request, promoted.metadata) == OK


def test_a_demotion_applies_to_an_old_token_at_once(stack, people, projects, identity_channel):
    admin = create_account(identity_channel, people.super_admin, unique("demo"), "admin")
    request = someone_elses_project(projects, people)
    eventually(lambda: read_model_role(stack, admin.id) == "admin")
    assert code_of(projects.GetProject, request, admin.metadata) == OK

    change_role(identity_channel, people, admin, "developer")
    eventually(lambda: read_model_role(stack, admin.id) == "developer")
    # The token still says admin; the read model's developer role is what counts.
    assert code_of(projects.GetProject, request, admin.metadata) == NOT_FOUND
