"""Nobody joins a team without saying yes: a team's owners and admins invite a person by username or
email, the invited user accepts or declines, and only on accepting is there a membership (and its
team_member.added event, which the projects service follows). Platform admins still add members
directly. Through the running platform: gRPC straight to identity, and REST through the gateway.

Inviting tells nothing about which accounts exist (the answer to a login naming nobody is the same),
and the team sees of an invited person only the login it typed until they join."""

import asyncio
import uuid

import grpc
import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from tests.support.accounts import create_account, random_id
from tests.support.calls import (
    DENIED,
    INVALID,
    NOT_FOUND,
    TIMEOUT,
    code_of,
    field_of,
    payload,
    rest,
    rpc_error,
)
from tests.support.database import admin_database
from tests.support.waiting import eventually

CLOSED = grpc.StatusCode.FAILED_PRECONDITION


def stub(people):
    return identity_pb2_grpc.TeamServiceStub(people.channel)


def invite(people, team, invitee: str, *, role: str = "") -> identity_pb2.TeamInvitation:
    """`invitee` invited to `team` by its owner."""
    return stub(people).CreateTeamInvitation(
        identity_pb2.CreateTeamInvitationRequest(
            team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=invitee, role=role)
        ),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )


def accept(people, account, invitation_id: str):
    request = identity_pb2.AcceptTeamInvitationRequest(invitation_id=invitation_id)
    return stub(people).AcceptTeamInvitation(request, metadata=account.metadata, timeout=TIMEOUT)


def accept_error(people, account, invitation_id: str) -> grpc.RpcError:
    request = identity_pb2.AcceptTeamInvitationRequest(invitation_id=invitation_id)
    return rpc_error(stub(people).AcceptTeamInvitation, request, account.metadata)


def member_ids(people, team) -> set[str]:
    response = stub(people).ListTeamMembers(
        identity_pb2.ListTeamMembersRequest(team_id=team.id), metadata=people.super_admin.metadata
    )
    return {member.user_id for member in response.members}


def my_invitations(people, account) -> list[identity_pb2.TeamInvitation]:
    request = identity_pb2.ListMyTeamInvitationsRequest()
    return list(stub(people).ListMyTeamInvitations(request, metadata=account.metadata).invitations)


def team_invitations(people, team) -> list[identity_pb2.TeamInvitation]:
    request = identity_pb2.ListTeamInvitationsRequest(team_id=team.id)
    return list(stub(people).ListTeamInvitations(request, metadata=people.owner.metadata).invitations)


def sql(stack, query: str, *args) -> list:
    """`query` on identity's schema, behind the service's back."""

    async def run():
        async with admin_database(stack) as pool:
            return await pool.fetch(query, *args)

    return asyncio.run(run())


def identity_events(stack, type_: str) -> list[Event]:
    """Identity's events of one type, in commit order (its outbox)."""
    rows = sql(stack, "SELECT envelope FROM outbox ORDER BY id")
    return [event for event in (Event.FromString(row["envelope"]) for row in rows) if event.type == type_]


def memberships_added(stack, team, user_id: str) -> list[events_pb2.TeamMemberChanged]:
    """The team_member.added payloads of the user's membership of the team."""
    changes = [
        payload(e, events_pb2.TeamMemberChanged) for e in identity_events(stack, "identity.team_member.added")
    ]
    return [c for c in changes if (c.member.team_id, c.member.user_id) == (team.id, user_id)]


@pytest.fixture
def invitee(people):
    return create_account(people.channel, people.super_admin, f"inv{random_id()[:8]}", "developer")


def test_an_invitation_is_no_membership_until_the_invited_user_accepts(stack, people, invitee):
    team = people.new_team()

    def team_project():  # once the projects service has heard that the owner owns the team
        status, body = rest(
            stack.port,
            "POST",
            "/v1/projects",
            {"name": f"p{random_id()[:8]}", "team_id": team.id},
            people.owner.token,
        )
        return body["id"] if status == 200 else None

    project = eventually(team_project)
    invitation = invite(people, team, invitee.user.username.upper(), role="admin")
    assert (invitation.invitee, invitation.role, invitation.state) == (
        invitee.user.username,
        "admin",
        "pending",
    )
    assert (invitation.team_name, invitation.invited_by) == (team.name, people.owner.user.username)
    assert invitation.expires_at.ToSeconds() - invitation.created_at.ToSeconds() == 7 * 24 * 3600

    # Not a member: no membership, no event, and the team sees nothing of the person but the login.
    assert invitee.id not in member_ids(people, team)
    assert memberships_added(stack, team, invitee.id) == []
    assert (
        code_of(stub(people).GetTeam, identity_pb2.GetTeamRequest(team_id=team.id), invitee.metadata)
        == NOT_FOUND
    )
    users = identity_pb2_grpc.UserServiceStub(people.channel)
    assert (
        code_of(users.GetUser, identity_pb2.GetUserRequest(user_id=invitee.id), people.owner.metadata)
        == NOT_FOUND
    )
    listed = users.ListUsers(identity_pb2.ListUsersRequest(team_id=team.id), metadata=people.owner.metadata)
    assert invitee.id not in {user.id for user in listed.users}
    seen_by_team = str(team_invitations(people, team))
    assert invitee.user.email not in seen_by_team and invitee.id not in seen_by_team
    status, body = rest(stack.port, "GET", f"/v1/teams/{team.id}/invitations", token=people.owner.token)
    assert status == 200 and invitee.user.email not in str(body) and invitee.id not in str(body), body
    [created] = [
        e
        for e in identity_events(stack, "identity.team_invitation.created")
        if e.resource_id == invitation.id
    ]
    assert payload(created, events_pb2.TeamInvitationChanged).invitee_user_id == invitee.id
    assert rest(stack.port, "GET", f"/v1/projects/{project}", token=invitee.token)[0] == 404

    # The invited user sees it (over REST too) and accepts it through the gateway.
    assert [mine.id for mine in my_invitations(people, invitee)] == [invitation.id]
    status, body = rest(stack.port, "GET", "/v1/users/me/invitations", token=invitee.token)
    assert status == 200 and [item["id"] for item in body["invitations"]] == [invitation.id], body
    status, body = rest(
        stack.port, "POST", f"/v1/invitations/{invitation.id}:accept", {}, token=invitee.token
    )
    assert status == 200 and (body["user_id"], body["role"]) == (invitee.id, "admin"), body

    assert invitee.id in member_ids(people, team)
    [added] = memberships_added(stack, team, invitee.id)
    assert added.member.role == "admin"
    [accepted] = [
        e
        for e in identity_events(stack, "identity.team_invitation.accepted")
        if e.resource_id == invitation.id
    ]
    assert accepted.actor_user_id == invitee.id
    assert my_invitations(people, invitee) == []
    assert [i.state for i in team_invitations(people, team) if i.id == invitation.id] == ["accepted"]
    # Now fellow members see each other, and the projects service has heard of the membership.
    assert users.GetUser(
        identity_pb2.GetUserRequest(user_id=invitee.id), metadata=people.owner.metadata
    ).email
    eventually(lambda: rest(stack.port, "GET", f"/v1/projects/{project}", token=invitee.token)[0] == 200)
    assert accept_error(people, invitee, invitation.id).code() == CLOSED  # answered once


def test_declined_revoked_and_expired_invitations_cannot_be_accepted(stack, people, invitee):
    team = people.new_team()
    declined = invite(people, team, invitee.user.username)
    request = identity_pb2.DeclineTeamInvitationRequest(invitation_id=declined.id)
    answer = stub(people).DeclineTeamInvitation(request, metadata=invitee.metadata)
    assert answer.state == "declined" and answer.HasField("answered_at")
    error = accept_error(people, invitee, declined.id)
    assert (error.code(), error.details()) == (CLOSED, "this invitation was declined")

    revoked = invite(people, team, invitee.user.email)
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/teams/{team.id}/invitations/{revoked.id}:revoke",
        {},
        token=people.owner.token,
    )
    assert status == 200 and body["state"] == "revoked", body
    error = accept_error(people, invitee, revoked.id)
    assert (error.code(), error.details()) == (CLOSED, "this invitation was revoked by the team")

    expired = invite(people, team, invitee.user.username)  # a new one, now the declined one is closed
    sql(
        stack,
        "UPDATE team_invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expired.id),
    )
    assert my_invitations(people, invitee) == []
    assert [i.state for i in team_invitations(people, team) if i.id == expired.id] == ["expired"]
    error = accept_error(people, invitee, expired.id)
    assert (error.code(), error.details()) == (
        CLOSED,
        "this invitation has expired: ask the team for a new one",
    )
    assert invitee.id not in member_ids(people, team)
    assert memberships_added(stack, team, invitee.id) == []

    # An expired invitation makes way for a new one, which works.
    fresh = invite(people, team, invitee.user.username)
    assert accept(people, invitee, fresh.id).user_id == invitee.id


def test_only_the_invited_user_answers_an_invitation(people, invitee):
    team = people.new_team()
    invitation = invite(people, team, invitee.user.username)
    for method in ("AcceptTeamInvitation", "DeclineTeamInvitation"):
        request = getattr(identity_pb2, f"{method}Request")(invitation_id=invitation.id)
        call = getattr(stub(people), method)
        for stranger in (people.unrelated, people.developer, people.owner, people.member):
            assert code_of(call, request, stranger.metadata) == NOT_FOUND
        assert code_of(call, request, people.super_admin.metadata) == DENIED
    assert accept_error(people, people.unrelated, random_id()).code() == NOT_FOUND
    assert [i.state for i in team_invitations(people, team) if i.id == invitation.id] == ["pending"]
    assert member_ids(people, team) == {people.owner.id, people.member.id}
    assert accept(people, invitee, invitation.id).user_id == invitee.id


def test_inviting_tells_nothing_about_which_accounts_exist(stack, people, invitee):
    team = people.new_team()
    nobody = f"nobody{random_id()[:8]}"
    answers = {login: invite(people, team, login) for login in (invitee.user.username, nobody)}
    shapes = {
        login: (
            a.state,
            a.role,
            a.team_name,
            a.invited_by,
            a.HasField("expires_at"),
            a.HasField("answered_at"),
        )
        for login, a in answers.items()
    }
    assert shapes[invitee.user.username] == shapes[nobody]
    for login in answers:  # a second one is refused alike
        error = rpc_error(
            stub(people).CreateTeamInvitation,
            identity_pb2.CreateTeamInvitationRequest(
                team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=login)
            ),
            people.owner.metadata,
        )
        assert (error.code(), field_of(error)) == (grpc.StatusCode.ALREADY_EXISTS, "invitation.invitee")
        assert error.details() == f"an invitation of {login!r} to this team is already pending"
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/teams/{team.id}/invitations",
        {"invitee": f"{nobody}@example.com"},
        people.owner.token,
    )
    assert status == 200 and body["state"] == "pending", body
    # Already a member is said only of members, whom the team sees anyway.
    error = rpc_error(
        stub(people).CreateTeamInvitation,
        identity_pb2.CreateTeamInvitationRequest(
            team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=people.member.user.email.upper())
        ),
        people.owner.metadata,
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "that user is already a member of this team",
    )


@pytest.mark.parametrize(
    ("invitee", "role", "field"),
    [
        ("", "member", "invitation.invitee"),
        ("x" * 255, "member", "invitation.invitee"),
        ("someone", "chief", "invitation.role"),
    ],
)
def test_a_bad_invitation_names_its_field(people, invitee, role, field):
    error = rpc_error(
        stub(people).CreateTeamInvitation,
        identity_pb2.CreateTeamInvitationRequest(
            team_id=people.crew.id, invitation=identity_pb2.TeamInvitation(invitee=invitee, role=role)
        ),
        people.owner.metadata,
    )
    assert (error.code(), field_of(error)) == (INVALID, field)


def test_a_team_owner_invites_and_a_platform_admin_adds_directly(stack, people, invitee):
    team = people.new_team()
    request = identity_pb2.AddTeamMemberRequest(
        team_id=team.id, member=identity_pb2.TeamMember(user_id=invitee.id, role="member")
    )
    error = rpc_error(stub(people).AddTeamMember, request, people.owner.metadata)
    assert error.code() == DENIED and "CreateTeamInvitation" in error.details()
    assert invitee.id not in member_ids(people, team) and memberships_added(stack, team, invitee.id) == []

    member = stub(people).AddTeamMember(request, metadata=people.admin.metadata)
    assert (member.user_id, member.role) == (invitee.id, "member")
    [added] = memberships_added(stack, team, invitee.id)
    assert added.member.id == member.id
    assert (
        code_of(stub(people).AddTeamMember, request, people.admin.metadata) == grpc.StatusCode.ALREADY_EXISTS
    )
