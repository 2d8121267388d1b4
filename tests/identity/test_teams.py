"""Teams and members: ownership rules worded for people, the events of every membership change, and
TeamService through the real platform (gateway and direct gRPC).

The rules the database backs (a team keeps an owner) and the outbox are checked through the domain
functions against PostgreSQL; everything a client sees is checked through the stack."""

import contextlib
import json

import grpc
import pytest

from dockyard.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from dockyard_kit.errors import FailedPrecondition
from services.identity.domain import teams, users
from tests.identity.support import as_caller, create_people, outbox_events
from tests.support.accounts import create_account, random_id
from tests.support.calls import DENIED, INVALID, NOT_FOUND, OK, code_of, field_of, payload, rest, rpc_error


async def test_the_creator_owns_the_team_and_the_last_owner_stays(identity_pool):
    root, dev, other = await create_people(identity_pool, "root", "dev", "other")
    team = await teams.create_team(
        identity_pool, as_caller(dev), name="platform", description="", settings={"region": "eu"}
    )
    await teams.add_member(identity_pool, as_caller(root), team["id"], other["id"], "member")
    for refused in (
        teams.update_member(identity_pool, as_caller(dev), team["id"], dev["id"], "admin"),
        teams.remove_member(identity_pool, as_caller(dev), team["id"], dev["id"]),
        users.delete_user(identity_pool, as_caller(root), dev["id"]),
    ):
        with pytest.raises(FailedPrecondition, match="a team must keep at least one owner"):
            await refused
    members, _ = await teams.list_members(
        identity_pool, as_caller(other), team["id"], page_size=0, page_token=""
    )
    assert [(member["username"], member["role"]) for member in members] == [
        ("dev", "owner"),
        ("other", "member"),
    ]


async def test_membership_events_follow_every_change_also_through_deletions(identity_pool):
    root, dev, other = await create_people(identity_pool, "root", "dev", "other")
    actor = as_caller(dev)
    team = await teams.create_team(identity_pool, actor, name="platform", description="", settings={})
    await teams.add_member(identity_pool, as_caller(root), team["id"], other["id"], "member")
    await teams.update_member(identity_pool, actor, team["id"], other["id"], "admin")
    await teams.update_member(identity_pool, actor, team["id"], other["id"], "admin")  # no change, no event
    await teams.update_team(identity_pool, actor, team["id"], {"description": "the platform team"})
    await users.delete_user(identity_pool, as_caller(root), other["id"])
    await teams.delete_team(identity_pool, actor, team["id"])
    events = [event for event in await outbox_events(identity_pool) if ".user." not in event.type]
    assert [event.type for event in events] == [
        "identity.team.created",
        "identity.team_member.added",
        "identity.team_member.added",
        "identity.team_member.role_changed",
        "identity.team.updated",
        "identity.team_member.removed",
        "identity.team_member.removed",
        "identity.team.deleted",
    ]
    role_changed = payload(events[3], events_pb2.TeamMemberChanged)
    assert (role_changed.previous_role, role_changed.member.role) == ("member", "admin")
    assert role_changed.member.username == "other"
    assert payload(events[0], events_pb2.TeamChanged).team.settings == {}
    assert payload(events[4], events_pb2.TeamChanged).team.description == "the platform team"


# -- through the platform -----------------------------------------------------------------------


def team_stub(channel):
    return identity_pb2_grpc.TeamServiceStub(channel)


def members_of(people, team) -> list[tuple[str, str]]:
    response = team_stub(people.channel).ListTeamMembers(
        identity_pb2.ListTeamMembersRequest(team_id=team.id), metadata=people.super_admin.metadata
    )
    return [(member.username, member.role) for member in response.members]


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("ab", INVALID, "name"),
        ("t" * 101, INVALID, "name"),
        ("crew-twin", grpc.StatusCode.ALREADY_EXISTS, "name"),
    ],
)
def test_a_bad_team_name_is_named_over_grpc_and_rest(people, stack, name, code, field):
    stub = team_stub(people.channel)
    create = identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name="crew-twin"))
    with contextlib.suppress(grpc.RpcError):
        stub.CreateTeam(create, metadata=people.developer.metadata)
    listed = lambda: stub.ListTeams(identity_pb2.ListTeamsRequest(), metadata=people.admin.metadata).teams  # noqa: E731
    before = len(listed())
    error = rpc_error(
        stub.CreateTeam,
        identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=name)),
        people.developer.metadata,
    )
    assert (error.code(), field_of(error)) == (code, field)
    status, body = rest(stack.port, "POST", "/v1/teams", {"name": name}, people.developer.token)
    assert status == {INVALID: 400, grpc.StatusCode.ALREADY_EXISTS: 409}[code], body
    assert len(listed()) == before


def test_the_creator_owns_a_new_team(people):
    team = team_stub(people.channel).CreateTeam(
        identity_pb2.CreateTeamRequest(
            team=identity_pb2.Team(name="founders", description="first", settings={"region": "eu"})
        ),
        metadata=people.developer.metadata,
    )
    assert (team.name, team.description, dict(team.settings)) == ("founders", "first", {"region": "eu"})
    assert members_of(people, team) == [("dev1", "owner")]


def test_ownership_rules_between_owners_and_team_admins(people):
    stub = team_stub(people.channel)
    team = people.new_team()
    people.add_member(team, people.developer.user, role="admin")
    team_admin = people.developer

    def change(actor, user, role):
        request = identity_pb2.UpdateTeamMemberRequest(
            team_id=team.id, user_id=user.id, member=identity_pb2.TeamMember(role=role)
        )
        return code_of(stub.UpdateTeamMember, request, actor.metadata)

    def remove(actor, user):
        request = identity_pb2.RemoveTeamMemberRequest(team_id=team.id, user_id=user.id)
        return code_of(stub.RemoveTeamMember, request, actor.metadata)

    def add(actor, user, role):
        request = identity_pb2.AddTeamMemberRequest(
            team_id=team.id, member=identity_pb2.TeamMember(user_id=user.id, role=role)
        )
        return code_of(stub.AddTeamMember, request, actor.metadata)

    def invite(actor, user, role):
        request = identity_pb2.CreateTeamInvitationRequest(
            team_id=team.id, invitation=identity_pb2.TeamInvitation(invitee=user.username, role=role)
        )
        return code_of(stub.CreateTeamInvitation, request, actor.metadata)

    assert invite(team_admin, people.unrelated.user, "owner") == DENIED  # only owners make owners
    assert invite(team_admin, people.unrelated.user, "viewer") == OK
    [invitation] = stub.ListMyTeamInvitations(
        identity_pb2.ListMyTeamInvitationsRequest(), metadata=people.unrelated.metadata
    ).invitations
    stub.AcceptTeamInvitation(
        identity_pb2.AcceptTeamInvitationRequest(invitation_id=invitation.id),
        metadata=people.unrelated.metadata,
    )
    assert invite(team_admin, people.unrelated.user, "member") == grpc.StatusCode.ALREADY_EXISTS
    assert invite(team_admin, people.viewer.user, "chief") == INVALID
    assert add(team_admin, people.viewer.user, "member") == DENIED  # team managers invite
    assert add(people.admin, identity_pb2.User(id=random_id()), "member") == NOT_FOUND
    assert change(team_admin, people.member.user, "admin") == OK
    assert change(team_admin, people.owner.user, "member") == DENIED  # nor unmake them
    assert remove(team_admin, people.owner.user) == DENIED
    # The only owner can be neither demoted nor removed, even by themselves or a platform admin.
    for refused in (
        change(people.owner, people.owner.user, "admin"),
        remove(people.super_admin, people.owner.user),
    ):
        assert refused == grpc.StatusCode.FAILED_PRECONDITION
    assert change(people.owner, people.member.user, "owner") == OK
    assert change(people.owner, people.owner.user, "member") == OK  # another owner remains
    assert remove(people.unrelated, people.unrelated.user) == OK  # anyone may leave
    assert sorted(members_of(people, team)) == [("dev1", "admin"), ("member1", "owner"), ("owner1", "member")]


def test_the_last_owner_refusal_reads_well(people):
    team = people.new_team()
    error = rpc_error(
        team_stub(people.channel).UpdateTeamMember,
        identity_pb2.UpdateTeamMemberRequest(
            team_id=team.id, user_id=people.owner.id, member=identity_pb2.TeamMember(role="member")
        ),
        people.owner.metadata,
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (
        "a team must keep at least one owner: make another member an owner first, or delete the team"
    )


def test_update_team_with_a_mask_and_over_rest(people, stack):
    team = people.new_team()
    status, body = rest(
        stack.port,
        "PATCH",
        f"/v1/teams/{team.id}?update_mask=description,settings",
        {"name": "ignored", "description": "we ship", "settings": {"color": "blue"}},
        people.owner.token,
    )
    assert status == 200, body
    assert (body["name"], body["description"], body["settings"]) == (team.name, "we ship", {"color": "blue"})
    status, body = rest(stack.port, "PATCH", f"/v1/teams/{team.id}?update_mask=id", {}, people.owner.token)
    assert status == 400 and "update_mask" in json.dumps(body), body
    status, body = rest(stack.port, "GET", f"/v1/teams/{team.id}", token=people.unrelated.token)
    assert status == 404, body
    status, body = rest(stack.port, "DELETE", f"/v1/teams/{team.id}", token=people.owner.token)
    assert status == 200, body
    status, body = rest(stack.port, "GET", f"/v1/teams/{team.id}", token=people.super_admin.token)
    assert status == 404, body


def test_teams_and_members_page_in_name_order(people):
    stub = team_stub(people.channel)
    pager = create_account(people.channel, people.super_admin, "pager", "developer")
    names = [f"paged-{letter}" for letter in "dbeac"]
    for name in names:
        stub.CreateTeam(
            identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=name)), metadata=pager.metadata
        )

    def every_page(list_page, items):
        seen, token = [], ""
        while True:
            page = list_page(token)
            seen += items(page)
            token = page.next_page_token
            if not token:
                return seen

    teams = every_page(
        lambda token: stub.ListTeams(
            identity_pb2.ListTeamsRequest(page_size=2, page_token=token), metadata=pager.metadata
        ),
        lambda page: [team.name for team in page.teams],
    )
    assert teams == sorted(names)  # the pager's own teams only
    every_team = every_page(
        lambda token: stub.ListTeams(
            identity_pb2.ListTeamsRequest(page_size=3, page_token=token), metadata=people.admin.metadata
        ),
        lambda page: [team.name for team in page.teams],
    )
    assert set(names) < set(every_team) and every_team == sorted(every_team)
    members = every_page(
        lambda token: stub.ListTeamMembers(
            identity_pb2.ListTeamMembersRequest(team_id=people.crew.id, page_size=1, page_token=token),
            metadata=people.member.metadata,
        ),
        lambda page: [member.username for member in page.members],
    )
    assert {"owner1", "member1"} <= set(members) and members == sorted(members)
    for request, field in (
        (identity_pb2.ListTeamsRequest(page_size=101), "page_size"),
        (identity_pb2.ListTeamsRequest(page_token="nope"), "page_token"),
    ):
        error = rpc_error(stub.ListTeams, request, pager.metadata)
        assert (error.code(), field_of(error)) == (INVALID, field)
