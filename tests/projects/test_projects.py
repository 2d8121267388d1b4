"""ProjectService on the running platform: create, read, list with filters and pages, update,
delete with everything in it, team attachment rules, events, and bad input (REST and gRPC)."""

import asyncio
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.accounts import create_account
from tests.support.calls import INVALID, NOT_FOUND, TIMEOUT, field_of, payload, rest, rpc_error
from tests.support.database import admin_database
from tests.support.resources import create, outbox, sql_value, unique
from tests.support.waiting import eventually

ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS


@pytest.fixture(scope="module")
def projects_api(gateway_channel):
    return projects_pb2_grpc.ProjectServiceStub(gateway_channel)


def test_create_get_and_the_seed_sample_shape(stack, people):
    metadata = {
        "environment": "production",
        "tags": ["critical", "customer-facing"],
        "cost_center": "engineering",
    }
    body = create(
        stack, people.owner, name="my-saas-app", description="Production SaaS application", metadata=metadata
    )
    assert body["owner_id"] == people.owner.id
    assert body["metadata"] == metadata
    assert body["created_at"].endswith("Z") and body["updated_at"]
    status, fetched = rest(stack.port, "GET", f"/v1/projects/{body['id']}", token=people.owner.token)
    assert status == 200 and fetched == body
    [event] = outbox(stack, body["id"])
    assert event.type == "projects.project.created" and event.actor_user_id == people.owner.id
    assert payload(event, events_pb2.ProjectChanged).project.name == "my-saas-app"


def test_names_are_unique_per_owner_only(stack, people):
    name = unique("shared")
    create(stack, people.owner, name=name)
    status, body = rest(stack.port, "POST", "/v1/projects", {"name": name}, token=people.owner.token)
    assert status == 409, body
    assert body["details"][0]["field_violations"][0]["field"] == "name"
    create(stack, people.developer, name=name)  # another owner may use it


@pytest.mark.parametrize(
    ("project", "field"),
    [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "valid-name", "team_id": "not-a-uuid"}, "team_id"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, project, field):
    before = sql_value(stack, "SELECT count(*) FROM projects")
    status, body = rest(stack.port, "POST", "/v1/projects", project, token=people.owner.token)
    assert status == 400, body
    assert body["details"][0]["field_violations"][0]["field"] == field
    assert sql_value(stack, "SELECT count(*) FROM projects") == before


def test_bad_input_over_grpc_too(projects_api, people):
    error = rpc_error(
        projects_api.CreateProject,
        projects_pb2.CreateProjectRequest(project=projects_pb2.Project(name="no")),
        people.owner.metadata,
    )
    assert error.code() == INVALID and field_of(error) == "name"
    error = rpc_error(
        projects_api.GetProject, projects_pb2.GetProjectRequest(project_id="nope"), people.owner.metadata
    )
    assert error.code() == INVALID and field_of(error) == "project_id"


def test_unknown_and_invisible_projects_are_the_same_not_found(stack, people, projects_api):
    mine = create(stack, people.owner)
    unknown = str(uuid.uuid4())
    invisible = rpc_error(
        projects_api.GetProject,
        projects_pb2.GetProjectRequest(project_id=mine["id"]),
        people.unrelated.metadata,
    )
    missing = rpc_error(
        projects_api.GetProject, projects_pb2.GetProjectRequest(project_id=unknown), people.unrelated.metadata
    )
    assert invisible.code() == missing.code() == NOT_FOUND
    assert invisible.details().replace(mine["id"], "<id>") == missing.details().replace(unknown, "<id>")


def test_list_filters_by_search_tag_metadata_and_team(stack, people):
    team_id = people.crew.id
    tagged = create(
        stack,
        people.owner,
        name=unique("Billing-API"),
        metadata={"tags": ["pci"], "tier": "gold"},
        team_id=team_id,
    )
    plain = create(stack, people.owner, name=unique("website"))

    def names(query: str) -> set[str]:
        status, body = rest(stack.port, "GET", f"/v1/projects?{query}", token=people.owner.token)
        assert status == 200, body
        return {p["id"] for p in body.get("projects", [])}

    assert tagged["id"] in names("search=billing-api") and plain["id"] not in names("search=billing-api")
    assert names("tag=pci") >= {tagged["id"]} and plain["id"] not in names("tag=pci")
    assert tagged["id"] in names('metadata_contains={"tier":"gold"}')
    assert plain["id"] not in names('metadata_contains={"tier":"gold"}')
    assert tagged["id"] in names(f"team_id={team_id}") and plain["id"] not in names(f"team_id={team_id}")
    # A team member sees the team's project, not the owner's private one.
    member_view = eventually(
        lambda: (lambda ids: ids if tagged["id"] in ids else None)(
            {
                p["id"]
                for p in rest(stack.port, "GET", "/v1/projects?page_size=100", token=people.member.token)[
                    1
                ].get("projects", [])
            }
        )
    )
    assert plain["id"] not in member_view
    status, body = rest(stack.port, "GET", "/v1/projects?metadata_contains=[1]", token=people.owner.token)
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == "metadata_contains"


def test_pages_walk_every_project_once_newest_first(stack, people):
    account = people.developer
    created = [create(stack, account, metadata={"walk": "yes"})["id"] for _ in range(7)]
    seen, token = [], ""
    while True:
        status, body = rest(
            stack.port,
            "GET",
            f'/v1/projects?page_size=3&metadata_contains={{"walk":"yes"}}&page_token={token}',
            token=account.token,
        )
        assert status == 200, body
        seen += [p["id"] for p in body["projects"]]
        token = body.get("next_page_token", "")
        if not token:
            break
    assert seen == list(reversed(created))
    status, body = rest(
        stack.port, "GET", f"/v1/projects?page_size=3&page_token={token or 'garbage'}", token=account.token
    )
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == "page_token"


def test_update_with_a_mask_changes_only_named_fields(projects_api, stack, people):
    body = create(stack, people.owner, description="before", metadata={"a": 1})
    metadata = struct_pb2.Struct()
    metadata.update({"b": 2})
    updated = projects_api.UpdateProject(
        projects_pb2.UpdateProjectRequest(
            project=projects_pb2.Project(
                id=body["id"], description="after", metadata=metadata, name="ignored-name"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["description", "metadata"]),
        ),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    assert updated.description == "after" and dict(updated.metadata) == {"b": 2.0}
    assert updated.name == body["name"]
    error = rpc_error(
        projects_api.UpdateProject,
        projects_pb2.UpdateProjectRequest(
            project=projects_pb2.Project(id=body["id"]),
            update_mask=field_mask_pb2.FieldMask(paths=["owner_id"]),
        ),
        people.owner.metadata,
    )
    assert error.code() == INVALID and field_of(error) == "update_mask"
    assert [e.type for e in outbox(stack, body["id"])] == [
        "projects.project.created",
        "projects.project.updated",
    ]


def test_only_a_team_owner_or_admin_may_attach_their_team(stack, people):
    # member1 is a plain member of crew: may not hand projects to it.
    status, body = rest(
        stack.port,
        "POST",
        "/v1/projects",
        {"name": unique("p"), "team_id": people.crew.id},
        token=people.member.token,
    )
    assert status == 403 and "team_id" in body["message"]
    create(stack, people.owner, team_id=people.crew.id)  # crew's owner may


def test_delete_takes_everything_in_the_project_with_one_event_each(stack, people):
    body = create(stack, people.owner)
    project_id = uuid.UUID(body["id"])

    async def seed():
        async with admin_database(stack, "projects") as pool:
            app = await pool.fetchval(
                "INSERT INTO applications (project_id, name, type, source_type) VALUES ($1, 'web', 'docker', 'docker') RETURNING id",
                project_id,
            )
            await pool.execute(
                "INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PORT', '8080')", app
            )
            await pool.execute(
                "INSERT INTO volumes (project_id, name, mount_path, size_gb, application_id) VALUES ($1, $2, '/data', 1, $3)",
                project_id,
                unique("vol"),
                app,
            )
            await pool.execute(
                "INSERT INTO domains (project_id, domain, target_type, target_id, verification_token)"
                " VALUES ($1, $2, 'application', $3, md5(random()::text))",
                project_id,
                f"{unique('d')}.example.com",
                app,
            )
            return app

    app_id = asyncio.run(seed())
    status, _ = rest(stack.port, "DELETE", f"/v1/projects/{project_id}", token=people.owner.token)
    assert status == 200
    assert sql_value(stack, "SELECT count(*) FROM applications WHERE project_id = $1", project_id) == 0
    assert sql_value(stack, "SELECT count(*) FROM volumes WHERE project_id = $1", project_id) == 0
    assert [e.type for e in outbox(stack, str(app_id))] == ["projects.application.deleted"]

    async def types():
        async with admin_database(stack, "projects") as pool:
            rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
        return [Event.FromString(r["envelope"]).type for r in rows]

    tail = asyncio.run(types())[-5:]
    assert tail == [
        "projects.domain.deleted",
        "projects.volume.deleted",
        "projects.env_var.deleted",
        "projects.application.deleted",
        "projects.project.deleted",
    ]
    status, _ = rest(stack.port, "GET", f"/v1/projects/{project_id}", token=people.owner.token)
    assert status == 404


def test_a_team_admin_manages_but_only_the_owner_deletes(stack, people, identity_channel):
    body = create(stack, people.owner, team_id=people.crew.id)
    identity_pb2_grpc.TeamServiceStub(identity_channel).UpdateTeamMember(
        identity_pb2.UpdateTeamMemberRequest(
            team_id=people.crew.id, user_id=people.member.id, member=identity_pb2.TeamMember(role="admin")
        ),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    try:
        path = f"/v1/projects/{body['id']}"
        eventually(
            lambda: (
                rest(stack.port, "PATCH", path, {"description": "by admin"}, token=people.member.token)[0]
                == 200
            )
        )
        status, answer = rest(stack.port, "DELETE", path, token=people.member.token)
        assert status == 403, answer
        assert rest(stack.port, "DELETE", path, token=people.owner.token)[0] == 200
    finally:
        identity_pb2_grpc.TeamServiceStub(identity_channel).UpdateTeamMember(
            identity_pb2.UpdateTeamMemberRequest(
                team_id=people.crew.id,
                user_id=people.member.id,
                member=identity_pb2.TeamMember(role="member"),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )


def test_only_the_owner_or_a_platform_admin_moves_a_project_to_another_team(stack, people, identity_channel):
    # A team admin of crew who owns a team of their own, where they may attach projects.
    mover = create_account(identity_channel, people.super_admin, unique("mover")[:20], "developer")
    people.add_member(people.crew, mover.user, role="admin")
    their_team = identity_pb2_grpc.TeamServiceStub(identity_channel).CreateTeam(
        identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=unique("theirs"))),
        metadata=mover.metadata,
        timeout=TIMEOUT,
    )
    body = create(stack, people.owner, team_id=people.crew.id)
    path = f"/v1/projects/{body['id']}"

    def team_of_project() -> str:
        return str(sql_value(stack, "SELECT team_id FROM projects WHERE id = $1", uuid.UUID(body["id"])))

    # The admin manages the project (once projects has heard of the membership)...
    eventually(
        lambda: rest(stack.port, "PATCH", path, {"description": "by admin"}, token=mover.token)[0] == 200
    )
    # ...but may neither move it to their team nor take it out of crew.
    for team_id in (their_team.id, ""):
        status, answer = rest(
            stack.port, "PATCH", f"{path}?update_mask=team_id", {"team_id": team_id}, token=mover.token
        )
        assert status == 403 and "team_id" in answer["message"] and "owner" in answer["message"], answer
        assert team_of_project() == people.crew.id
    assert [e.type for e in outbox(stack, body["id"])][-1] == "projects.project.updated"  # the description
    # Staying in the same team is no move.
    status, _ = rest(
        stack.port, "PATCH", f"{path}?update_mask=team_id", {"team_id": people.crew.id}, token=mover.token
    )
    assert status == 200 and team_of_project() == people.crew.id
    # The owner moves it to another team of theirs; a platform admin to any team.
    elsewhere = people.new_team()
    eventually(  # once projects has heard that the owner owns that team
        lambda: rest(stack.port, "PATCH", path, {"team_id": elsewhere.id}, token=people.owner.token)[0] == 200
    )
    assert team_of_project() == elsewhere.id
    status, moved = rest(stack.port, "PATCH", path, {"team_id": their_team.id}, token=people.admin.token)
    assert status == 200 and moved["team_id"] == their_team.id and team_of_project() == their_team.id
