"""The kit's project access decisions (dockyard_kit/project_access.py), which projects and the
deployer both apply: the level each caller holds on a project, and what check and require_creator
answer below it."""

import re
import uuid

import pytest

from dockyard_kit.auth import Caller
from dockyard_kit.errors import NotFound, PermissionDenied
from dockyard_kit.project_access import Level, check, project_level, require_creator

OWNER = "00000000-0000-4000-8000-00000000000a"
SOMEONE = "00000000-0000-4000-8000-00000000000b"
PROJECT = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
OTHER_PROJECT = "00000000-0000-4000-8000-0000000000c2"
NOT_FOUND = NotFound(f"project {PROJECT} not found")


def project(team_role: str | None = None) -> dict:
    return {"id": PROJECT, "owner_id": uuid.UUID(OWNER), "team_role": team_role}


@pytest.mark.parametrize(
    ("caller", "team_role", "expected"),
    [
        (Caller(OWNER, "developer"), None, Level.OWN),
        (Caller(SOMEONE, "super_admin"), None, Level.OWN),
        (Caller(SOMEONE, "admin"), None, Level.OWN),
        (Caller(SOMEONE, "developer"), "owner", Level.MANAGE),
        (Caller(SOMEONE, "developer"), "admin", Level.MANAGE),
        (Caller(SOMEONE, "developer"), "member", Level.WRITE),
        (Caller(SOMEONE, "developer"), "viewer", Level.READ),
        (Caller(SOMEONE, "developer"), None, Level.NONE),
        (Caller(SOMEONE, "developer"), "stranger", Level.NONE),
        # read-only callers never get past READ, not even the owner or an admin
        (Caller(OWNER, "developer", scope="read_only"), None, Level.READ),
        (Caller(SOMEONE, "admin", scope="read_only"), None, Level.READ),
        (Caller(OWNER, "viewer"), None, Level.READ),
        (Caller(SOMEONE, "viewer"), "viewer", Level.READ),
        (Caller(SOMEONE, "viewer"), None, Level.NONE),
        # a project-limited token sees its projects only
        (Caller(OWNER, "developer", project_ids=frozenset({str(PROJECT)})), None, Level.OWN),
        (Caller(OWNER, "developer", project_ids=frozenset({OTHER_PROJECT})), None, Level.NONE),
        (Caller(SOMEONE, "admin", project_ids=frozenset({OTHER_PROJECT})), "owner", Level.NONE),
    ],
)
def test_the_level_a_caller_holds(caller, team_role, expected):
    assert project_level(caller, uuid.UUID(OWNER), PROJECT, team_role) == expected


def test_check_passes_at_the_level_needed():
    check(Caller(SOMEONE, "developer"), project("member"), Level.WRITE, NOT_FOUND)


def test_below_read_the_project_does_not_exist():
    with pytest.raises(NotFound) as raised:
        check(Caller(SOMEONE, "developer"), project(None), Level.READ, NOT_FOUND)
    assert raised.value is NOT_FOUND


@pytest.mark.parametrize(
    ("needed", "needs"),
    [
        (Level.WRITE, "write access to the project (team member or above)"),
        (Level.MANAGE, "manager rights on the project (its owner, or a team owner or admin)"),
        (Level.OWN, "ownership of the project (only its owner or a platform admin may do this)"),
    ],
)
def test_below_the_level_needed_the_denial_names_the_action_and_what_it_needs(needed, needs):
    with pytest.raises(PermissionDenied, match=f"^{re.escape(f'deploying needs {needs}')}$"):
        check(Caller(SOMEONE, "developer"), project("viewer"), needed, NOT_FOUND, action="deploying")


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (Caller(OWNER, "developer", scope="read_only"), "this token is read-only"),
        (Caller(OWNER, "viewer"), "a platform viewer never writes"),
    ],
)
def test_a_read_only_caller_is_told_why_it_cannot_write(caller, reason):
    with pytest.raises(PermissionDenied, match=f"^{reason}$"):
        check(caller, project(), Level.WRITE, NOT_FOUND)
    with pytest.raises(PermissionDenied, match=f"^{reason}$"):
        require_creator(caller)


def test_creating_a_project_needs_a_read_write_token_not_limited_to_projects():
    require_creator(Caller(SOMEONE, "developer"))
    with pytest.raises(PermissionDenied, match=r"^a project-limited token cannot create projects$"):
        require_creator(Caller(SOMEONE, "developer", project_ids=frozenset({OTHER_PROJECT})))
