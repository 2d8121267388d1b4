"""Access follows identity within two seconds, well before access tokens expire: a member removed
from the project's team loses sight of it, a disabled user is refused, a demoted admin stops
writing. Each is measured from the identity call's return to the first refusal, straight to the
projects service (the read model and the deny-list are its own)."""

import time

import grpc
import pytest
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from tests.support.accounts import create_account
from tests.support.calls import DENIED, NOT_FOUND, OK, TIMEOUT, UNAUTHENTICATED, code_of
from tests.support.resources import unique
from tests.support.waiting import eventually

WITHIN_SECONDS = 2.0
POLL_SECONDS = 0.05


@pytest.fixture(scope="module")
def projects(projects_channel):
    return projects_pb2_grpc.ProjectServiceStub(projects_channel)


@pytest.fixture(scope="module")
def teams(identity_channel):
    return identity_pb2_grpc.TeamServiceStub(identity_channel)


def create_project(projects, account, team_id: str = "") -> str | None:
    """The new project's id; None if the service does not know yet that `account` may attach `team_id`."""
    project = projects_pb2.Project(name=unique("proj-"), team_id=team_id)
    try:
        return projects.CreateProject(
            projects_pb2.CreateProjectRequest(project=project), metadata=account.metadata, timeout=TIMEOUT
        ).id
    except grpc.RpcError as error:
        if team_id and error.code() == DENIED:
            return None
        raise


def seconds_until(call, code: grpc.StatusCode, label: str) -> float:
    """Time from now to the first `code` from `call()`, polling every POLL_SECONDS."""
    started = time.monotonic()
    while (got := call()) != code:
        elapsed = time.monotonic() - started
        assert elapsed < WITHIN_SECONDS, f"{label}: still {got.name} after {elapsed:.2f}s"
        time.sleep(POLL_SECONDS)
    elapsed = time.monotonic() - started
    print(f"{label}: {code.name} after {elapsed:.3f}s")
    assert elapsed < WITHIN_SECONDS
    return elapsed


def test_a_member_removed_from_the_team_loses_the_project(stack, people, projects, teams, identity_channel):
    team = teams.CreateTeam(
        identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=unique("revoke-"))),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    teams.AddTeamMember(
        identity_pb2.AddTeamMemberRequest(
            team_id=team.id, member=identity_pb2.TeamMember(user_id=people.unrelated.id, role="member")
        ),
        metadata=people.super_admin.metadata,  # a platform admin adds directly; owners invite
        timeout=TIMEOUT,
    )
    # The owner may attach the team once projects has heard that they own it.
    project_id = eventually(lambda: create_project(projects, people.owner, team.id))
    request = projects_pb2.GetProjectRequest(project_id=project_id)
    eventually(lambda: code_of(projects.GetProject, request, people.unrelated.metadata) == OK)

    teams.RemoveTeamMember(
        identity_pb2.RemoveTeamMemberRequest(team_id=team.id, user_id=people.unrelated.id),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    seconds_until(
        lambda: code_of(projects.GetProject, request, people.unrelated.metadata),
        NOT_FOUND,
        "membership removed",
    )
    assert code_of(projects.GetProject, request, people.owner.metadata) == OK


def test_a_disabled_user_is_refused(people, projects, identity_channel):
    user = create_account(identity_channel, people.super_admin, unique("off"), "developer")
    project_id = create_project(projects, user)
    request = projects_pb2.GetProjectRequest(project_id=project_id)
    assert code_of(projects.GetProject, request, user.metadata) == OK

    identity_pb2_grpc.UserServiceStub(identity_channel).DisableUser(
        identity_pb2.DisableUserRequest(user_id=user.id),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    seconds_until(
        lambda: code_of(projects.GetProject, request, user.metadata), UNAUTHENTICATED, "user disabled"
    )


def test_a_demoted_admin_stops_writing(people, projects, identity_channel):
    admin = create_account(identity_channel, people.super_admin, unique("demo"), "admin")
    project_id = create_project(projects, admin)
    request = projects_pb2.UpdateProjectRequest(
        project=projects_pb2.Project(id=project_id, description="by an admin"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
    )
    assert code_of(projects.UpdateProject, request, admin.metadata) == OK

    identity_pb2_grpc.UserServiceStub(identity_channel).UpdateUser(
        identity_pb2.UpdateUserRequest(
            user=identity_pb2.User(id=admin.id, role="viewer"),
            update_mask=field_mask_pb2.FieldMask(paths=["role"]),
        ),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    # The access token still says admin; the service's read model of roles says viewer.
    seconds_until(
        lambda: code_of(projects.UpdateProject, request, admin.metadata), DENIED, "admin demoted to viewer"
    )
    create = projects_pb2.CreateProjectRequest(project=projects_pb2.Project(name=unique("after-")))
    assert code_of(projects.CreateProject, create, admin.metadata) == DENIED
    assert (
        code_of(projects.GetProject, projects_pb2.GetProjectRequest(project_id=project_id), admin.metadata)
        == OK
    )
