"""Identity's authorization tables, run by tests/identity/test_authorization.py with the harness of
tests/support/authorization.py: a row for every UserService, TeamService and ApiTokenService RPC,
with the code each kind of caller of `People` (tests/support/accounts.py) expects."""

import uuid

import grpc
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.support.accounts import PASSWORD, People, random_id
from tests.support.authorization import Case
from tests.support.calls import DENIED, NOT_FOUND, OK, TIMEOUT, UNAUTHENTICATED
from tests.support.tokens import unverified

CALLERS = (
    "super_admin",
    "admin",
    "developer",
    "viewer",
    "owner",
    "member",
    "unrelated",
    "anonymous",
    "read_only_admin",
    "project_limited_admin",
)

USERS = identity_pb2_grpc.UserServiceStub
TEAMS = identity_pb2_grpc.TeamServiceStub
API_TOKENS = identity_pb2_grpc.ApiTokenServiceStub


def expect(*, admins: grpc.StatusCode, others: grpc.StatusCode = DENIED, **by_caller) -> dict:
    """Expected codes by caller: `admins` for super_admin and admin, `others` for developer, viewer
    and the unrelated user, UNAUTHENTICATED for anonymous; PERMISSION_DENIED unless `by_caller`
    names another code for a caller."""
    codes = dict.fromkeys(CALLERS, DENIED)
    codes.update(super_admin=admins, admin=admins, developer=others, viewer=others, unrelated=others)
    codes.update(anonymous=UNAUTHENTICATED, **by_caller)
    return codes


def acting_on(
    stub, method: str, expected: dict, build, *, usual, fresh=None, variant: str = "", effect=None
) -> Case:
    """A row whose request is `build(people, subject)`. The subject is `usual(people)`, which nothing
    may change; with `fresh`, a caller expected to succeed acts on a `fresh(people)` subject of
    their own, since their call changes it. `effect(people, caller, request)`: whether the change
    happened (read back by the super_admin)."""

    def call(people: People, caller: str):
        subject = fresh(people) if fresh is not None and expected[caller] == OK else usual(people)
        return build(people, subject), getattr(people, caller).metadata

    return Case(stub, method, expected, call, variant, effect)


def as_root(people: People, stub, method: str, request):
    return getattr(stub(people.channel), method)(
        request, metadata=people.super_admin.metadata, timeout=TIMEOUT
    )


def not_found_by_root(people: People, stub, method: str, request) -> bool:
    try:
        as_root(people, stub, method, request)
    except grpc.RpcError as error:
        if error.code() != NOT_FOUND:
            raise
        return True
    return False


# -- UserService: acting on the bystander, or on a fresh developer in crew --------------------------


def user_row(
    method: str, build, expected: dict, *, changes_target: bool = False, variant: str = "", effect=None
) -> Case:
    fresh = People.new_target if changes_target else None
    return acting_on(
        USERS,
        method,
        expected,
        build,
        usual=lambda people: people.bystander,
        fresh=fresh,
        variant=variant,
        effect=effect,
    )


def new_user(people, target) -> identity_pb2.CreateUserRequest:
    name = f"n{random_id()[:8]}"
    return identity_pb2.CreateUserRequest(
        user=identity_pb2.User(username=name, email=f"{name}@example.com", password=PASSWORD)
    )


def update_email(people, target) -> identity_pb2.UpdateUserRequest:
    return identity_pb2.UpdateUserRequest(
        user=identity_pb2.User(id=target.id, email=f"{random_id()[:8]}@example.com"),
        update_mask=field_mask_pb2.FieldMask(paths=["email"]),
    )


USER_CASES = [
    user_row(
        "GetCurrentUser",
        lambda people, target: identity_pb2.GetCurrentUserRequest(),
        expect(admins=OK, owner=OK, member=OK, others=OK, read_only_admin=OK, project_limited_admin=OK),
    ),
    user_row(
        "ListUsers",
        lambda people, target: identity_pb2.ListUsersRequest(),
        expect(admins=OK, read_only_admin=OK),
    ),
    user_row(
        "ListUsers",
        lambda people, target: identity_pb2.ListUsersRequest(team_id=people.crew.id),
        expect(admins=OK, owner=OK, member=OK, read_only_admin=OK),
        variant="team_id",
    ),
    user_row(
        "GetUser",
        lambda people, target: identity_pb2.GetUserRequest(user_id=target.id),
        expect(admins=OK, owner=OK, member=OK, others=NOT_FOUND, read_only_admin=OK),
    ),
    user_row("CreateUser", new_user, expect(admins=OK)),
    user_row(
        "UpdateUser",
        update_email,
        expect(admins=OK),
        changes_target=True,
        effect=lambda people, caller, request: (
            as_root(people, USERS, "GetUser", identity_pb2.GetUserRequest(user_id=request.user.id)).email
            == request.user.email
        ),
    ),
    user_row(
        "DisableUser",
        lambda people, target: identity_pb2.DisableUserRequest(user_id=target.id),
        expect(admins=OK),
        changes_target=True,
        effect=lambda people, caller, request: (
            as_root(people, USERS, "GetUser", identity_pb2.GetUserRequest(user_id=request.user_id)).disabled
        ),
    ),
    user_row(
        "EnableUser",
        lambda people, target: identity_pb2.EnableUserRequest(user_id=target.id),
        expect(admins=OK),
        changes_target=True,
    ),
    user_row(
        "DeleteUser",
        lambda people, target: identity_pb2.DeleteUserRequest(user_id=target.id),
        expect(admins=OK),
        changes_target=True,
        effect=lambda people, caller, request: not_found_by_root(
            people, USERS, "GetUser", identity_pb2.GetUserRequest(user_id=request.user_id)
        ),
    ),
]


# -- TeamService: acting on crew, or on a fresh team like crew ------------------------------------


def team_row(method: str, build, expected: dict, *, changes_team: bool = False, effect=None) -> Case:
    fresh = People.new_team if changes_team else None
    return acting_on(
        TEAMS, method, expected, build, usual=lambda people: people.crew, fresh=fresh, effect=effect
    )


TEAM_CASES = [
    team_row(
        "ListTeams",
        lambda people, team: identity_pb2.ListTeamsRequest(),
        expect(admins=OK, others=OK, owner=OK, member=OK, read_only_admin=OK),
    ),
    team_row(
        "GetTeam",
        lambda people, team: identity_pb2.GetTeamRequest(team_id=team.id),
        expect(admins=OK, others=NOT_FOUND, owner=OK, member=OK, read_only_admin=OK),
    ),
    team_row(
        "CreateTeam",
        lambda people, team: identity_pb2.CreateTeamRequest(
            team=identity_pb2.Team(name=f"new-{random_id()}")
        ),
        expect(admins=OK, others=OK, viewer=DENIED, owner=OK, member=OK),
    ),
    team_row(
        "UpdateTeam",
        lambda people, team: identity_pb2.UpdateTeamRequest(
            team=identity_pb2.Team(id=team.id, description=f"renamed {random_id()[:8]}"),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ),
        expect(admins=OK, others=NOT_FOUND, owner=OK),
        changes_team=True,
        effect=lambda people, caller, request: (
            as_root(
                people, TEAMS, "GetTeam", identity_pb2.GetTeamRequest(team_id=request.team.id)
            ).description
            == request.team.description
        ),
    ),
    team_row(
        "DeleteTeam",
        lambda people, team: identity_pb2.DeleteTeamRequest(team_id=team.id),
        expect(admins=OK, others=NOT_FOUND, owner=OK),
        changes_team=True,
        effect=lambda people, caller, request: not_found_by_root(
            people, TEAMS, "GetTeam", identity_pb2.GetTeamRequest(team_id=request.team_id)
        ),
    ),
    team_row(
        "ListTeamMembers",
        lambda people, team: identity_pb2.ListTeamMembersRequest(team_id=team.id),
        expect(admins=OK, others=NOT_FOUND, owner=OK, member=OK, read_only_admin=OK),
    ),
    team_row(
        "AddTeamMember",
        lambda people, team: identity_pb2.AddTeamMemberRequest(
            team_id=team.id, member=identity_pb2.TeamMember(user_id=people.unrelated.id, role="member")
        ),
        expect(admins=OK, others=NOT_FOUND),  # team owners invite (INVITATION_CASES)
        changes_team=True,
        effect=lambda people, caller, request: (
            request.member.user_id
            in {
                member.user_id
                for member in as_root(
                    people,
                    TEAMS,
                    "ListTeamMembers",
                    identity_pb2.ListTeamMembersRequest(team_id=request.team_id),
                ).members
            }
        ),
    ),
    team_row(
        "UpdateTeamMember",
        lambda people, team: identity_pb2.UpdateTeamMemberRequest(
            team_id=team.id, user_id=people.member.id, member=identity_pb2.TeamMember(role="viewer")
        ),
        expect(admins=OK, others=NOT_FOUND, owner=OK),
        changes_team=True,
    ),
    team_row(
        "RemoveTeamMember",
        lambda people, team: identity_pb2.RemoveTeamMemberRequest(team_id=team.id, user_id=people.member.id),
        expect(admins=OK, others=NOT_FOUND, owner=OK, member=OK),  # a member may leave
        changes_team=True,
        effect=lambda people, caller, request: (
            request.user_id
            not in {
                member.user_id
                for member in as_root(
                    people,
                    TEAMS,
                    "ListTeamMembers",
                    identity_pb2.ListTeamMembersRequest(team_id=request.team_id),
                ).members
            }
        ),
    ),
]


# -- TeamService's invitations: sent to a team, answered by the invited user only -----------------

# The team of each invitation a row made, for its effect check (an answer names the invitation only).
INVITATION_TEAMS: dict[str, str] = {}


def invite(people: People, team, invitee: str, inviter=None) -> identity_pb2.TeamInvitation:
    """`invitee` invited to `team` by `inviter` (crew's owner unless given)."""
    invitation = TEAMS(people.channel).CreateTeamInvitation(
        identity_pb2.CreateTeamInvitationRequest(
            team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=invitee)
        ),
        metadata=(inviter or people.owner).metadata,
        timeout=TIMEOUT,
    )
    INVITATION_TEAMS[invitation.id] = team.id
    return invitation


def invitation_state(people: People, invitation_id: str) -> str:
    listed = as_root(
        people,
        TEAMS,
        "ListTeamInvitations",
        identity_pb2.ListTeamInvitationsRequest(team_id=INVITATION_TEAMS[invitation_id], page_size=100),
    )
    return {invitation.id: invitation.state for invitation in listed.invitations}[invitation_id]


def answering(method: str, request_type, answered_state: str, *, own: bool) -> Case:
    """A row answering an invitation to a new team the caller is not in (its owner is another
    developer): sent to the caller's own user (`own`), or to the bystander's."""

    def call(people: People, caller: str):
        account = getattr(people, caller)
        creator = people.unrelated if caller == "developer" else people.developer
        team = TEAMS(people.channel).CreateTeam(
            identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=f"invites-{random_id()[:8]}")),
            metadata=creator.metadata,
            timeout=TIMEOUT,
        )
        invitee = account.user.username if own and account.user.username else people.bystander.username
        invitation = invite(people, team, invitee, inviter=creator)
        return request_type(invitation_id=invitation.id), account.metadata

    if own:  # read-only and project-limited tokens answer nothing
        expected = expect(admins=OK, others=OK, owner=OK, member=OK)
    else:  # someone else's: admins are told why, others learn nothing of it
        expected = expect(admins=DENIED, others=NOT_FOUND, owner=NOT_FOUND, member=NOT_FOUND)
    return Case(
        TEAMS,
        method,
        expected,
        call,
        variant="" if own else "someone_else",
        effect=lambda people, caller, request: (
            invitation_state(people, request.invitation_id) == answered_state
        ),
    )


INVITATION_CASES = [
    team_row(
        "CreateTeamInvitation",
        lambda people, team: identity_pb2.CreateTeamInvitationRequest(
            team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=f"i{random_id()[:8]}@example.com")
        ),
        expect(admins=OK, others=NOT_FOUND, owner=OK),
        changes_team=True,
        effect=lambda people, caller, request: (
            request.invitation.invitee
            in {
                invitation.invitee
                for invitation in as_root(
                    people,
                    TEAMS,
                    "ListTeamInvitations",
                    identity_pb2.ListTeamInvitationsRequest(team_id=request.team_id, page_size=100),
                ).invitations
            }
        ),
    ),
    team_row(
        "ListTeamInvitations",
        lambda people, team: identity_pb2.ListTeamInvitationsRequest(team_id=team.id),
        expect(admins=OK, others=NOT_FOUND, owner=OK, read_only_admin=OK),
    ),
    team_row(
        "RevokeTeamInvitation",
        lambda people, team: identity_pb2.RevokeTeamInvitationRequest(
            team_id=team.id, invitation_id=invite(people, team, f"r{random_id()[:8]}").id
        ),
        expect(admins=OK, others=NOT_FOUND, owner=OK),
        effect=lambda people, caller, request: invitation_state(people, request.invitation_id) == "revoked",
    ),
    team_row(
        "ListMyTeamInvitations",
        lambda people, team: identity_pb2.ListMyTeamInvitationsRequest(),
        expect(admins=OK, others=OK, owner=OK, member=OK, read_only_admin=OK),
    ),
    answering("AcceptTeamInvitation", identity_pb2.AcceptTeamInvitationRequest, "accepted", own=True),
    answering("AcceptTeamInvitation", identity_pb2.AcceptTeamInvitationRequest, "accepted", own=False),
    answering("DeclineTeamInvitation", identity_pb2.DeclineTeamInvitationRequest, "declined", own=True),
    answering("DeclineTeamInvitation", identity_pb2.DeclineTeamInvitationRequest, "declined", own=False),
]


# -- ApiTokenService: one's own tokens ------------------------------------------------------------

HUMANS = ("super_admin", "admin", "developer", "viewer", "owner", "member", "unrelated")


def api_token_expectations(*, read_only_admin: grpc.StatusCode) -> dict:
    """Every person manages their own tokens; an API token manages none; project-limited tokens
    make no identity call but GetCurrentUser."""
    return {
        **dict.fromkeys(HUMANS, OK),
        "anonymous": UNAUTHENTICATED,
        "read_only_admin": read_only_admin,
        "project_limited_admin": DENIED,
    }


def new_api_token(caller: str) -> identity_pb2.CreateApiTokenRequest:
    return identity_pb2.CreateApiTokenRequest(
        token=identity_pb2.ApiToken(name=f"{caller}-{uuid.uuid4().hex[:8]}")
    )


def delete_api_token(people: People, caller: str):
    """A person deletes a token of their own; the others try the admin's read-only token."""
    account = getattr(people, caller)
    if caller in HUMANS:
        created = API_TOKENS(people.channel).CreateApiToken(
            new_api_token(caller), metadata=account.metadata, timeout=TIMEOUT
        )
        token_id = created.token.id
    else:
        token_id = unverified(people.read_only_admin.token)[1]["api_token_id"]
    return identity_pb2.DeleteApiTokenRequest(token_id=token_id), account.metadata


def api_token_gone(people: People, caller: str, request) -> bool:
    """The token is no longer among its holder's (the caller's own, or the admin's read-only one)."""
    holder = getattr(people, caller) if caller in HUMANS else people.admin
    listed = API_TOKENS(people.channel).ListApiTokens(
        identity_pb2.ListApiTokensRequest(), metadata=holder.metadata, timeout=TIMEOUT
    )
    return request.token_id not in {token.id for token in listed.tokens}


API_TOKEN_CASES = [
    Case(
        API_TOKENS,
        "ListApiTokens",
        api_token_expectations(read_only_admin=OK),
        lambda people, caller: (identity_pb2.ListApiTokensRequest(), getattr(people, caller).metadata),
    ),
    Case(
        API_TOKENS,
        "CreateApiToken",
        api_token_expectations(read_only_admin=DENIED),
        lambda people, caller: (new_api_token(caller), getattr(people, caller).metadata),
    ),
    Case(
        API_TOKENS,
        "DeleteApiToken",
        api_token_expectations(read_only_admin=DENIED),
        delete_api_token,
        effect=api_token_gone,
    ),
]

CASES = USER_CASES + TEAM_CASES + INVITATION_CASES + API_TOKEN_CASES
