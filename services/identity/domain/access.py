"""Who may do what in identity: plain functions over the verified `Caller` and the target's data.

Each `check_*` function returns nothing or raises the error the client should see; `can_*` functions
answer a question the caller of the rule turns into an error. They read no database: the domain
loads the data (inside its transaction) and passes it in, so every rule is unit-testable.

Two ways to say no:
  * NOT_FOUND where saying PERMISSION_DENIED would tell the caller that something exists which they
    may not see (another user who shares no team with them, a team they are not in);
  * PERMISSION_DENIED once the caller may see the target, or when the answer is the same whether or
    not the target exists.

Platform viewers are read-only on shared things (teams, memberships, other users) but still manage
their own account (profile, password), may leave a team, and answer their own invitations: they
consent to what a team manager offered them.

Nobody is put into a team without consent: team managers invite, the invited user accepts, and only
platform admins add members directly (an admin's act).
"""

from dockyard_kit.auth import ADMIN_ROLES, READ_ONLY, Caller
from dockyard_kit.errors import NotFound, PermissionDenied

TEAM_ROLES = ("owner", "admin", "member", "viewer")
# Team roles that manage a team's profile and its members.
TEAM_MANAGER_ROLES = ("owner", "admin")


def is_self(caller: Caller, user_id) -> bool:
    return str(user_id) == caller.user_id


# -- every identity call ------------------------------------------------------------------------


def check_identity_call(caller: Caller, *, writes: bool) -> None:
    """Every identity RPC but GetCurrentUser: project-limited tokens are for project work only, and
    read-only tokens never write."""
    if caller.project_limited:
        raise PermissionDenied("this token is limited to projects; in identity it may only read its user")
    if writes and caller.scope == READ_ONLY:
        raise PermissionDenied("this token is read-only")


def _check_platform_admin(caller: Caller, action: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(f"only platform admins {action}")


# -- users --------------------------------------------------------------------------------------


def can_view_user(caller: Caller, user_id, *, shares_a_team: bool) -> bool:
    return caller.is_admin or is_self(caller, user_id) or shares_a_team


def check_list_users(caller: Caller, *, team_id, is_team_member: bool) -> None:
    """Admins list everyone; others list the members of a team of theirs. The answer is the same
    for a team that does not exist, so it tells nothing about other teams."""
    check_identity_call(caller, writes=False)
    if caller.is_admin:
        return
    if not team_id:
        raise PermissionDenied("only platform admins list all users; set team_id to one of your teams")
    if not is_team_member:
        raise PermissionDenied("you may list the members of your own teams only")


def check_create_user(caller: Caller, role: str) -> None:
    check_identity_call(caller, writes=True)
    _check_platform_admin(caller, "create users")
    if role in ADMIN_ROLES:
        _check_grants_admin_roles(caller)


def _check_grants_admin_roles(caller: Caller) -> None:
    if not caller.is_super_admin:
        raise PermissionDenied("only a super_admin grants or removes the admin and super_admin roles")
    if caller.via_api_token:
        raise PermissionDenied("API tokens cannot grant or remove the admin and super_admin roles")


def check_update_user(caller: Caller, user_id, paths: set[str]) -> None:
    """What can be decided before reading the target: a user edits their own account, admins edit
    others', and a role is changed by an admin signed in as a person, never on themselves."""
    check_identity_call(caller, writes=True)
    if "role" in paths:
        if is_self(caller, user_id):
            raise PermissionDenied("nobody changes their own role")
        _check_platform_admin(caller, "change roles")
        if caller.via_api_token:
            raise PermissionDenied("API tokens cannot change roles")
    if not is_self(caller, user_id):
        _check_platform_admin(caller, "change other users' accounts")


def check_role_change(caller: Caller, previous_role: str, new_role: str) -> None:
    """After check_update_user: admin and super_admin are granted and removed by a super_admin."""
    if previous_role in ADMIN_ROLES or new_role in ADMIN_ROLES:
        _check_grants_admin_roles(caller)


def check_manage_accounts(caller: Caller) -> None:
    """Deleting, disabling and enabling accounts (before reading the target)."""
    check_identity_call(caller, writes=True)
    _check_platform_admin(caller, "delete, disable or enable users")


def check_act_on_account(caller: Caller, target_role: str) -> None:
    """An admin acting on an account as an admin (another's profile or role; delete, disable,
    enable): admin and super_admin accounts are handled by a super_admin only."""
    if target_role in ADMIN_ROLES and not caller.is_super_admin:
        raise PermissionDenied("only a super_admin acts on an admin or super_admin account")


# -- teams --------------------------------------------------------------------------------------


def can_view_team(caller: Caller, caller_team_role: str | None) -> bool:
    return caller.is_admin or caller_team_role is not None


def check_view_team(caller: Caller, caller_team_role: str | None) -> None:
    check_identity_call(caller, writes=False)
    if not can_view_team(caller, caller_team_role):
        raise NotFound("team not found")


def _check_team_writer(caller: Caller, caller_team_role: str | None) -> None:
    check_view_team(caller, caller_team_role)
    check_identity_call(caller, writes=True)
    if caller.role == "viewer":
        raise PermissionDenied("platform viewers cannot change teams")


def check_create_team(caller: Caller) -> None:
    check_identity_call(caller, writes=True)
    if caller.role == "viewer":
        raise PermissionDenied("platform viewers cannot create teams")


def check_update_team(caller: Caller, caller_team_role: str | None) -> None:
    _check_team_writer(caller, caller_team_role)
    if not caller.is_admin and caller_team_role not in TEAM_MANAGER_ROLES:
        raise PermissionDenied("only the team's owners and admins, or platform admins, change the team")


def check_delete_team(caller: Caller, caller_team_role: str | None) -> None:
    _check_team_writer(caller, caller_team_role)
    if not caller.is_admin and caller_team_role != "owner":
        raise PermissionDenied("only the team's owners, or platform admins, delete the team")


def check_set_member_role(
    caller: Caller, caller_team_role: str | None, previous_role: str | None, new_role: str
) -> None:
    """Adding a member (previous_role None) or changing a member's role."""
    _check_team_writer(caller, caller_team_role)
    if caller.is_admin:
        return
    if caller_team_role not in TEAM_MANAGER_ROLES:
        raise PermissionDenied("only the team's owners and admins, or platform admins, manage its members")
    if "owner" in (previous_role, new_role) and caller_team_role != "owner":
        raise PermissionDenied("only a team owner, or a platform admin, grants or removes ownership")


def check_add_member_directly(caller: Caller, caller_team_role: str | None) -> None:
    """Adding a member without their consent is for platform admins (the role rules then are
    check_set_member_role's, which always pass for them)."""
    _check_team_writer(caller, caller_team_role)
    if not caller.is_admin:
        raise PermissionDenied(
            "only platform admins add members directly; the team's owners and admins invite people"
            " instead (CreateTeamInvitation, POST /v1/teams/{team_id}/invitations), who join on accepting"
        )


def check_manage_invitations(caller: Caller, caller_team_role: str | None, *, writes: bool) -> None:
    """Listing (writes False) and revoking the team's invitations; sending one is
    check_set_member_role's, as it offers a role."""
    check_view_team(caller, caller_team_role)
    if writes:
        _check_team_writer(caller, caller_team_role)
    if not caller.is_admin and caller_team_role not in TEAM_MANAGER_ROLES:
        raise PermissionDenied(
            "only the team's owners and admins, or platform admins, manage its invitations"
        )


def check_answer_invitation(caller: Caller, invitee_user_id) -> None:
    """Only the invited user accepts or declines. Others learn nothing of the invitation, but
    platform admins, who may list every team's invitations, are told why."""
    check_identity_call(caller, writes=True)
    if is_self(caller, invitee_user_id):
        return
    if caller.is_admin:
        raise PermissionDenied("only the invited user accepts or declines an invitation")
    raise NotFound("invitation not found")


def check_remove_member(caller: Caller, caller_team_role: str | None, user_id, member_role: str) -> None:
    """Managers remove members (a team admin not an owner); anyone may leave a team."""
    check_view_team(caller, caller_team_role)
    check_identity_call(caller, writes=True)
    if is_self(caller, user_id):
        return
    _check_team_writer(caller, caller_team_role)
    if caller.is_admin:
        return
    if caller_team_role not in TEAM_MANAGER_ROLES:
        raise PermissionDenied("only the team's owners and admins, or platform admins, remove members")
    if member_role == "owner" and caller_team_role != "owner":
        raise PermissionDenied("a team admin cannot remove an owner")
