"""The identity access rules, as plain functions: who may do what, and which error says no."""

import uuid

import pytest

from dockyard_kit.auth import READ_ONLY, Caller
from dockyard_kit.errors import NotFound, PermissionDenied
from services.identity.domain import access

ME = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
TEAM = str(uuid.uuid4())


def caller(role: str, **token) -> Caller:
    return Caller(user_id=ME, role=role, **token)


SUPER = caller("super_admin")
ADMIN = caller("admin")
DEVELOPER = caller("developer")
VIEWER = caller("viewer")
READ_ONLY_ADMIN = caller("admin", scope=READ_ONLY)
PROJECT_LIMITED_ADMIN = caller("admin", project_ids=frozenset({str(uuid.uuid4())}))
SUPER_VIA_API_TOKEN = caller("super_admin", api_token_id=str(uuid.uuid4()))
ADMIN_VIA_API_TOKEN = caller("admin", api_token_id=str(uuid.uuid4()))

ALLOWED = None


def outcome(rule, *args, **kwargs):
    """None when the rule allows, else the error class it raised."""
    try:
        rule(*args, **kwargs)
    except (PermissionDenied, NotFound) as error:
        return type(error)
    return ALLOWED


# -- every identity call ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "writes", "expected"),
    [
        (DEVELOPER, False, ALLOWED),
        (DEVELOPER, True, ALLOWED),
        (READ_ONLY_ADMIN, False, ALLOWED),
        (READ_ONLY_ADMIN, True, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, False, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, True, PermissionDenied),
    ],
)
def test_token_scopes_limit_every_identity_call(who, writes, expected):
    assert outcome(access.check_identity_call, who, writes=writes) is expected


# -- users --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "target", "shares_a_team", "expected"),
    [
        (ADMIN, OTHER, False, True),
        (SUPER, OTHER, False, True),
        (DEVELOPER, ME, False, True),
        (DEVELOPER, OTHER, True, True),
        (DEVELOPER, OTHER, False, False),
        (VIEWER, OTHER, False, False),
    ],
)
def test_who_sees_a_user(who, target, shares_a_team, expected):
    assert access.can_view_user(who, target, shares_a_team=shares_a_team) is expected


@pytest.mark.parametrize(
    ("who", "team_id", "is_member", "expected"),
    [
        (ADMIN, "", False, ALLOWED),
        (ADMIN, TEAM, False, ALLOWED),
        (READ_ONLY_ADMIN, "", False, ALLOWED),
        (DEVELOPER, TEAM, True, ALLOWED),
        (VIEWER, TEAM, True, ALLOWED),
        (DEVELOPER, "", False, PermissionDenied),
        (DEVELOPER, TEAM, False, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, "", False, PermissionDenied),
    ],
)
def test_who_lists_users(who, team_id, is_member, expected):
    assert outcome(access.check_list_users, who, team_id=team_id, is_team_member=is_member) is expected


@pytest.mark.parametrize(
    ("who", "role", "expected"),
    [
        (SUPER, "super_admin", ALLOWED),
        (SUPER, "admin", ALLOWED),
        (SUPER, "developer", ALLOWED),
        (ADMIN, "developer", ALLOWED),
        (ADMIN, "viewer", ALLOWED),
        (ADMIN_VIA_API_TOKEN, "developer", ALLOWED),
        (ADMIN, "admin", PermissionDenied),
        (ADMIN, "super_admin", PermissionDenied),
        (SUPER_VIA_API_TOKEN, "admin", PermissionDenied),
        (DEVELOPER, "developer", PermissionDenied),
        (VIEWER, "viewer", PermissionDenied),
        (READ_ONLY_ADMIN, "developer", PermissionDenied),
    ],
)
def test_who_creates_users(who, role, expected):
    assert outcome(access.check_create_user, who, role) is expected


@pytest.mark.parametrize(
    ("who", "target", "paths", "expected"),
    [
        (DEVELOPER, ME, {"username", "email", "password", "preferences"}, ALLOWED),
        (VIEWER, ME, {"password"}, ALLOWED),
        (DEVELOPER, OTHER, {"email"}, PermissionDenied),
        (DEVELOPER, ME, {"role"}, PermissionDenied),
        (SUPER, ME, {"role"}, PermissionDenied),
        (ADMIN, OTHER, {"email", "password"}, ALLOWED),
        (ADMIN, OTHER, {"role"}, ALLOWED),
        (ADMIN_VIA_API_TOKEN, OTHER, {"email"}, ALLOWED),
        (ADMIN_VIA_API_TOKEN, OTHER, {"role"}, PermissionDenied),
        (DEVELOPER, OTHER, {"role"}, PermissionDenied),
        (READ_ONLY_ADMIN, ME, {"preferences"}, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, ME, {"preferences"}, PermissionDenied),
    ],
)
def test_who_updates_which_account_fields(who, target, paths, expected):
    assert outcome(access.check_update_user, who, target, paths) is expected


@pytest.mark.parametrize(
    ("who", "previous", "new", "expected"),
    [
        (ADMIN, "developer", "viewer", ALLOWED),
        (ADMIN, "viewer", "developer", ALLOWED),
        (ADMIN, "developer", "admin", PermissionDenied),
        (ADMIN, "admin", "developer", PermissionDenied),
        (ADMIN, "super_admin", "developer", PermissionDenied),
        (SUPER, "developer", "admin", ALLOWED),
        (SUPER, "admin", "super_admin", ALLOWED),
        (SUPER, "super_admin", "viewer", ALLOWED),
    ],
)
def test_only_a_super_admin_grants_or_removes_admin_roles(who, previous, new, expected):
    assert outcome(access.check_role_change, who, previous, new) is expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (SUPER, ALLOWED),
        (ADMIN, ALLOWED),
        (ADMIN_VIA_API_TOKEN, ALLOWED),
        (DEVELOPER, PermissionDenied),
        (VIEWER, PermissionDenied),
        (READ_ONLY_ADMIN, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, PermissionDenied),
    ],
)
def test_who_deletes_disables_and_enables_accounts(who, expected):
    assert outcome(access.check_manage_accounts, who) is expected


@pytest.mark.parametrize(
    ("who", "target_role", "expected"),
    [
        (ADMIN, "developer", ALLOWED),
        (ADMIN, "viewer", ALLOWED),
        (ADMIN, "admin", PermissionDenied),
        (ADMIN, "super_admin", PermissionDenied),
        (SUPER, "admin", ALLOWED),
        (SUPER, "super_admin", ALLOWED),
    ],
)
def test_an_admin_does_not_act_on_admin_accounts(who, target_role, expected):
    assert outcome(access.check_act_on_account, who, target_role) is expected


# -- teams --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "team_role", "expected"),
    [
        (ADMIN, None, ALLOWED),
        (DEVELOPER, "viewer", ALLOWED),
        (VIEWER, "member", ALLOWED),
        (DEVELOPER, None, NotFound),
        (PROJECT_LIMITED_ADMIN, None, PermissionDenied),
    ],
)
def test_teams_are_seen_by_members_and_platform_admins(who, team_role, expected):
    assert outcome(access.check_view_team, who, team_role) is expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [(DEVELOPER, ALLOWED), (ADMIN, ALLOWED), (VIEWER, PermissionDenied), (READ_ONLY_ADMIN, PermissionDenied)],
)
def test_who_creates_teams(who, expected):
    assert outcome(access.check_create_team, who) is expected


@pytest.mark.parametrize(
    ("who", "team_role", "update", "delete"),
    [
        (DEVELOPER, "owner", ALLOWED, ALLOWED),
        (DEVELOPER, "admin", ALLOWED, PermissionDenied),
        (DEVELOPER, "member", PermissionDenied, PermissionDenied),
        (DEVELOPER, "viewer", PermissionDenied, PermissionDenied),
        (DEVELOPER, None, NotFound, NotFound),
        (ADMIN, None, ALLOWED, ALLOWED),
        (VIEWER, "owner", PermissionDenied, PermissionDenied),
        (READ_ONLY_ADMIN, "owner", PermissionDenied, PermissionDenied),
    ],
)
def test_who_updates_and_deletes_a_team(who, team_role, update, delete):
    assert outcome(access.check_update_team, who, team_role) is update
    assert outcome(access.check_delete_team, who, team_role) is delete


@pytest.mark.parametrize(
    ("who", "team_role", "previous", "new", "expected"),
    [
        (DEVELOPER, "owner", None, "owner", ALLOWED),
        (DEVELOPER, "owner", "member", "admin", ALLOWED),
        (DEVELOPER, "owner", "owner", "member", ALLOWED),
        (DEVELOPER, "admin", None, "member", ALLOWED),
        (DEVELOPER, "admin", "viewer", "admin", ALLOWED),
        (DEVELOPER, "admin", None, "owner", PermissionDenied),
        (DEVELOPER, "admin", "owner", "member", PermissionDenied),
        (DEVELOPER, "member", None, "viewer", PermissionDenied),
        (DEVELOPER, "viewer", "member", "viewer", PermissionDenied),
        (DEVELOPER, None, None, "member", NotFound),
        (ADMIN, None, None, "owner", ALLOWED),
        (ADMIN, None, "owner", "viewer", ALLOWED),
        (VIEWER, "owner", None, "member", PermissionDenied),
        (READ_ONLY_ADMIN, None, None, "member", PermissionDenied),
    ],
)
def test_who_invites_members_and_changes_their_roles(who, team_role, previous, new, expected):
    """Inviting (previous None) offers a role, under the same rules as changing one."""
    assert outcome(access.check_set_member_role, who, team_role, previous, new) is expected


@pytest.mark.parametrize(
    ("who", "team_role", "expected"),
    [
        (SUPER, None, ALLOWED),
        (ADMIN, "member", ALLOWED),
        (DEVELOPER, "owner", PermissionDenied),  # a team owner invites instead
        (DEVELOPER, "admin", PermissionDenied),
        (DEVELOPER, None, NotFound),
        (READ_ONLY_ADMIN, None, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, None, PermissionDenied),
    ],
)
def test_only_platform_admins_add_members_without_consent(who, team_role, expected):
    assert outcome(access.check_add_member_directly, who, team_role) is expected


@pytest.mark.parametrize(
    ("who", "team_role", "writes", "expected"),
    [
        (DEVELOPER, "owner", False, ALLOWED),
        (DEVELOPER, "admin", True, ALLOWED),
        (DEVELOPER, "member", False, PermissionDenied),
        (DEVELOPER, None, False, NotFound),
        (VIEWER, "admin", False, ALLOWED),
        (VIEWER, "admin", True, PermissionDenied),
        (ADMIN, None, True, ALLOWED),
        (READ_ONLY_ADMIN, None, False, ALLOWED),
        (READ_ONLY_ADMIN, None, True, PermissionDenied),
    ],
)
def test_who_lists_and_revokes_a_teams_invitations(who, team_role, writes, expected):
    assert outcome(access.check_manage_invitations, who, team_role, writes=writes) is expected


@pytest.mark.parametrize(
    ("who", "invitee", "expected"),
    [
        (DEVELOPER, ME, ALLOWED),
        (VIEWER, ME, ALLOWED),  # consenting to what a team offered them
        (DEVELOPER, OTHER, NotFound),
        (DEVELOPER, None, NotFound),  # an invitation whose login named no account
        (SUPER, OTHER, PermissionDenied),  # admins see invitations, but answer only their own
        (READ_ONLY_ADMIN, ME, PermissionDenied),
        (PROJECT_LIMITED_ADMIN, ME, PermissionDenied),
    ],
)
def test_only_the_invited_user_answers_an_invitation(who, invitee, expected):
    assert outcome(access.check_answer_invitation, who, invitee) is expected


@pytest.mark.parametrize(
    ("who", "team_role", "target", "member_role", "expected"),
    [
        (DEVELOPER, "owner", OTHER, "owner", ALLOWED),
        (DEVELOPER, "owner", OTHER, "member", ALLOWED),
        (DEVELOPER, "admin", OTHER, "member", ALLOWED),
        (DEVELOPER, "admin", OTHER, "admin", ALLOWED),
        (DEVELOPER, "admin", OTHER, "owner", PermissionDenied),
        (DEVELOPER, "member", OTHER, "viewer", PermissionDenied),
        (DEVELOPER, "member", ME, "member", ALLOWED),
        (VIEWER, "viewer", ME, "viewer", ALLOWED),
        (VIEWER, "owner", OTHER, "member", PermissionDenied),
        (DEVELOPER, None, OTHER, "member", NotFound),
        (ADMIN, None, OTHER, "owner", ALLOWED),
        (READ_ONLY_ADMIN, "member", ME, "member", PermissionDenied),
    ],
)
def test_who_removes_members(who, team_role, target, member_role, expected):
    assert outcome(access.check_remove_member, who, team_role, target, member_role) is expected
