"""The projects service follows identity's events on the running platform: a deleted user's projects
go with everything in them (one deleted event each), a deleted team's projects live on without a
team, an event redelivered under another message id applies once, and an event about a user or team
the service never knew is acknowledged and the consumer goes on."""

import asyncio
import uuid

import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import events_pb2
from dockyard_kit.events import new_event
from tests.support.accounts import create_account
from tests.support.calls import TIMEOUT, payload, rest
from tests.support.database import admin_database
from tests.support.resources import create, outbox, sql, unique
from tests.support.stream import publish
from tests.support.waiting import eventually


def in_read_model(stack, team_id: str, user_id: str) -> bool:
    query = "SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2"
    return bool(sql(stack, "projects", query, uuid.UUID(team_id), uuid.UUID(user_id)))


def create_team(stack, identity_channel, account) -> identity_pb2.Team:
    """A new team of `account`'s, once projects knows they own it."""
    team = identity_pb2_grpc.TeamServiceStub(identity_channel).CreateTeam(
        identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=unique("team"))),
        metadata=account.metadata,
        timeout=TIMEOUT,
    )
    eventually(lambda: in_read_model(stack, team.id, account.id))
    return team


def add_member(identity_channel, team, admin, user_id: str, role: str = "member") -> None:
    """Added directly by a platform admin (team owners invite instead)."""
    identity_pb2_grpc.TeamServiceStub(identity_channel).AddTeamMember(
        identity_pb2.AddTeamMemberRequest(
            team_id=team.id, member=identity_pb2.TeamMember(user_id=user_id, role=role)
        ),
        metadata=admin.metadata,
        timeout=TIMEOUT,
    )


def sees(stack, account, project_id: str) -> bool:
    return rest(stack.port, "GET", f"/v1/projects/{project_id}", token=account.token)[0] == 200


def seed_children(stack, project_id: str) -> dict[str, str]:
    """An application with an env var, a volume and a domain routed to it, and a database."""
    project = uuid.UUID(project_id)

    async def seed():
        async with admin_database(stack, "projects") as pool:
            app = await pool.fetchval(
                "INSERT INTO applications (project_id, name, type, source_type)"
                " VALUES ($1, 'web', 'docker', 'docker') RETURNING id",
                project,
            )
            env_var = await pool.fetchval(
                "INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PORT', '8080') RETURNING id",
                app,
            )
            volume = await pool.fetchval(
                "INSERT INTO volumes (project_id, name, mount_path, size_gb, application_id)"
                " VALUES ($1, 'data', '/data', 1, $2) RETURNING id",
                project,
                app,
            )
            domain = await pool.fetchval(
                "INSERT INTO domains (project_id, domain, target_type, target_id)"
                " VALUES ($1, $2, 'application', $3) RETURNING id",
                project,
                f"{unique('d')}.example.com",
                app,
            )
            database = await pool.fetchval(
                "INSERT INTO databases (project_id, name, type, version, username, connection_string)"
                " VALUES ($1, 'main', 'postgresql', '16', 'u_main', 'c2VhbGVk') RETURNING id",
                project,
            )
        return {
            "application": app,
            "env_var": env_var,
            "volume": volume,
            "domain": domain,
            "database": database,
        }

    return {kind: str(row_id) for kind, row_id in asyncio.run(seed()).items()}


def identity_event(stack, type_: str, resource_id: str) -> Event:
    [event] = [e for e in outbox(stack, resource_id, "identity") if e.type == type_]
    return event


@pytest.fixture(scope="module")
def consumer_ready(stack, people, identity_channel):
    """The consumer has caught up with the people's setup (crew's memberships are in the read model)."""
    eventually(lambda: in_read_model(stack, people.crew.id, people.member.id), timeout=20)


def test_a_deleted_users_projects_go_with_everything_in_them(stack, people, identity_channel, consumer_ready):
    leaver = create_account(identity_channel, people.super_admin, unique("leaver")[:20], "developer")
    add_member(identity_channel, people.crew, people.super_admin, leaver.id)
    projects = [create(stack, leaver)["id"] for _ in range(2)]
    children = seed_children(stack, projects[0])
    kept = create(stack, people.owner)["id"]
    eventually(lambda: in_read_model(stack, people.crew.id, leaver.id))

    status, body = rest(stack.port, "DELETE", f"/v1/users/{leaver.id}", token=people.super_admin.token)
    assert status == 200, body

    owned = "SELECT count(*) AS n FROM projects WHERE owner_id = $1"
    eventually(lambda: sql(stack, "projects", owned, uuid.UUID(leaver.id))[0]["n"] == 0)
    for table in ("applications", "volumes", "domains", "databases"):
        assert (
            sql(
                stack,
                "projects",
                f"SELECT count(*) AS n FROM {table} WHERE project_id = $1",
                uuid.UUID(projects[0]),
            )[0]["n"]
            == 0
        )
    assert (
        sql(
            stack,
            "projects",
            "SELECT count(*) AS n FROM env_vars WHERE id = $1",
            uuid.UUID(children["env_var"]),
        )[0]["n"]
        == 0
    )
    assert not sql(stack, "projects", "SELECT 1 FROM team_members WHERE user_id = $1", uuid.UUID(leaver.id))
    assert not sql(stack, "projects", "SELECT 1 FROM user_roles WHERE user_id = $1", uuid.UUID(leaver.id))
    for project_id in projects:
        [deleted] = outbox(stack, project_id)[-1:]
        assert deleted.type == "projects.project.deleted" and deleted.actor_user_id == ""
        assert payload(deleted, events_pb2.ProjectChanged).project.owner_id == leaver.id
    for kind, row_id in children.items():
        assert [e.type for e in outbox(stack, row_id)] == [f"projects.{kind}.deleted"]
    assert sees(stack, people.owner, kept)


def test_a_deleted_teams_projects_live_on_without_a_team(stack, people, identity_channel, consumer_ready):
    team = create_team(stack, identity_channel, people.owner)
    add_member(identity_channel, team, people.super_admin, people.developer.id)
    project = create(stack, people.owner, team_id=team.id)["id"]
    eventually(lambda: sees(stack, people.developer, project))

    identity_pb2_grpc.TeamServiceStub(identity_channel).DeleteTeam(
        identity_pb2.DeleteTeamRequest(team_id=team.id), metadata=people.owner.metadata, timeout=TIMEOUT
    )

    def detached():
        status, body = rest(stack.port, "GET", f"/v1/projects/{project}", token=people.owner.token)
        return status == 200 and body.get("team_id", "") == ""

    eventually(detached)
    updated = outbox(stack, project)[-1]
    assert updated.type == "projects.project.updated" and updated.actor_user_id == ""
    assert payload(updated, events_pb2.ProjectChanged).project.team_id == ""
    assert not sql(stack, "projects", "SELECT 1 FROM team_members WHERE team_id = $1", uuid.UUID(team.id))
    assert not sees(stack, people.developer, project)


def test_a_redelivered_event_applies_once(stack, people, identity_channel, consumer_ready):
    team = create_team(stack, identity_channel, people.owner)
    project = create(stack, people.owner, team_id=team.id)["id"]
    identity_pb2_grpc.TeamServiceStub(identity_channel).DeleteTeam(
        identity_pb2.DeleteTeamRequest(team_id=team.id), metadata=people.owner.metadata, timeout=TIMEOUT
    )
    eventually(lambda: outbox(stack, project)[-1].type == "projects.project.updated")
    # A platform admin may give the project the (gone) team's id again: a second application of
    # the same team.deleted event would take it away and publish another project.updated.
    status, body = rest(
        stack.port, "PATCH", f"/v1/projects/{project}", {"team_id": team.id}, token=people.super_admin.token
    )
    assert status == 200 and body["team_id"] == team.id, body
    before = outbox(stack, project)

    publish(stack, identity_event(stack, "identity.team.deleted", team.id))
    # A later event still applies, so the copy has been consumed (skipped) by then.
    later = create_team(stack, identity_channel, people.owner)
    add_member(identity_channel, later, people.super_admin, people.viewer.id, "viewer")
    eventually(lambda: in_read_model(stack, later.id, people.viewer.id))

    status, body = rest(stack.port, "GET", f"/v1/projects/{project}", token=people.owner.token)
    assert status == 200 and body["team_id"] == team.id, body
    assert outbox(stack, project) == before


def test_events_about_unknown_users_and_teams_are_acknowledged(
    stack, people, identity_channel, consumer_ready
):
    nobody, no_team = str(uuid.uuid4()), str(uuid.uuid4())
    user = identity_pb2.User(id=nobody, username="ghost", email="ghost@example.com", role="developer")
    member = identity_pb2.TeamMember(id=str(uuid.uuid4()), team_id=no_team, user_id=nobody, role="member")
    for verb, resource_id, message in (
        ("deleted", nobody, identity_events.UserChanged(user=user)),
        ("deleted", no_team, identity_events.TeamChanged(team=identity_pb2.Team(id=no_team, name="gone"))),
        ("removed", member.id, identity_events.TeamMemberChanged(member=member)),
    ):
        resource = {"UserChanged": "user", "TeamChanged": "team"}.get(type(message).__name__, "team_member")
        publish(stack, new_event("identity", resource, verb, resource_id, message))

    team = create_team(stack, identity_channel, people.owner)
    project = create(stack, people.owner, team_id=team.id)["id"]
    add_member(identity_channel, team, people.super_admin, people.unrelated.id)
    eventually(lambda: sees(stack, people.unrelated, project))
    assert not sql(stack, "projects", "SELECT 1 FROM parked_events WHERE consumer = 'identity'")


def test_a_late_removal_of_an_old_membership_leaves_the_new_one(
    stack, people, identity_channel, consumer_ready
):
    team = create_team(stack, identity_channel, people.owner)
    project = create(stack, people.owner, team_id=team.id)["id"]
    add_member(identity_channel, team, people.super_admin, people.unrelated.id)
    eventually(lambda: sees(stack, people.unrelated, project))
    stub = identity_pb2_grpc.TeamServiceStub(identity_channel)
    stub.RemoveTeamMember(
        identity_pb2.RemoveTeamMemberRequest(team_id=team.id, user_id=people.unrelated.id),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    eventually(lambda: not sees(stack, people.unrelated, project))
    [old_removal] = [
        e
        for e in events_about_type(stack, "identity.team_member.removed")
        if payload(e, identity_events.TeamMemberChanged).member.team_id == team.id
    ]
    add_member(identity_channel, team, people.super_admin, people.unrelated.id)
    eventually(lambda: sees(stack, people.unrelated, project))

    old_removal.id = str(uuid.uuid4())  # a fresh event id: the inbox lets it through
    publish(stack, old_removal)
    create_team(stack, identity_channel, people.owner)  # a later event, applied after the copy
    assert sees(stack, people.unrelated, project)


def events_about_type(stack, type_: str) -> list[Event]:
    rows = sql(stack, "identity", "SELECT envelope FROM outbox ORDER BY id")
    return [e for e in (Event.FromString(r["envelope"]) for r in rows) if e.type == type_]
