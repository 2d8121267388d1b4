"""Teams and members: ownership rules worded for people, the events of every membership change, and
TeamService through the real platform (gateway and direct gRPC).

The rules the database backs (a team keeps an owner) and the outbox are checked through the domain
functions against PostgreSQL; everything a client sees is checked through the stack."""

import pytest

from dockyard.identity.v1 import events_pb2
from dockyard_kit.errors import FailedPrecondition
from services.identity.domain import teams, users
from tests.identity.accounts import as_caller, create_people, outbox_events, payload


async def test_the_creator_owns_the_team_and_the_last_owner_stays(identity_pool):
    root, dev, other = await create_people(identity_pool, "root", "dev", "other")
    team = await teams.create_team(
        identity_pool, as_caller(dev), name="platform", description="", settings={"region": "eu"}
    )
    await teams.add_member(identity_pool, as_caller(dev), team["id"], other["id"], "member")
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
    await teams.add_member(identity_pool, actor, team["id"], other["id"], "member")
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
