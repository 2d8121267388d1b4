"""ApplicationService on the running platform, through the gateway (REST and gRPC) and straight
to the service: CRUD, every constraint, soft delete (archive, restore, purge), scaling, status
changes, lists and their pages, events."""

import asyncio
import uuid

import pytest
from google.protobuf import field_mask_pb2

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from services.projects.domain import applications
from services.projects.store.session import platform_transaction
from tests.support.calls import INVALID, NOT_FOUND, field_of, payload, rpc_error
from tests.support.database import admin_database
from tests.support.resources import call, create, new_app, outbox, sql_value, unique, violated_field
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def apps_gateway(gateway_channel):
    return projects_pb2_grpc.ApplicationServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def apps_direct(projects_channel):
    return projects_pb2_grpc.ApplicationServiceStub(projects_channel)


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    """A project of `owner`'s, worked on by the crew team."""
    return create(stack, people.owner, team_id=people.crew.id)


def test_create_get_and_defaults(stack, people, project):
    created = new_app(
        stack,
        people.owner,
        project["id"],
        name="api",
        docker_config={"image": "nginx:1.27", "ports": [{"target": 80}]},
        source_config={"registry": "docker.io"},
    )
    assert created["project_id"] == project["id"]
    assert (created["type"], created["source_type"], created["status"]) == ("docker", "docker", "stopped")
    assert created["replicas"] == 1 and "deleted_at" not in created
    assert created["docker_config"] == {"image": "nginx:1.27", "ports": [{"target": 80}]}
    status, fetched = call(stack, people.member, "GET", f"/v1/applications/{created['id']}")
    assert status == 200 and fetched == created
    [event] = outbox(stack, created["id"])
    assert event.type == "projects.application.created" and event.actor_user_id == people.owner.id
    assert payload(event, events_pb2.ApplicationChanged).application.name == "api"


def test_git_and_compose_applications_and_zero_replicas(stack, people, project):
    git = new_app(stack, people.member, project["id"], type="git", source_type="gitlab", replicas=0)
    assert (git["source_type"], git.get("replicas", 0)) == ("gitlab", 0)
    compose = new_app(stack, people.member, project["id"], type="compose")
    assert compose["source_type"] == "docker_compose"


@pytest.mark.parametrize(
    ("application", "field"),
    [
        ({"name": "Upper"}, "name"),
        ({"name": "-leading"}, "name"),
        ({"name": "trailing-"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({"name": "under_score"}, "name"),
        ({"name": ""}, "name"),
        ({"type": "vm"}, "type"),
        ({"type": "git"}, "source_type"),
        ({"type": "git", "source_type": "docker"}, "source_type"),
        ({"type": "docker", "source_type": "github"}, "source_type"),
        ({"type": "compose", "source_type": "docker"}, "source_type"),
        ({"type": "docker", "source_type": "svn"}, "source_type"),
        ({"replicas": -1}, "replicas"),
        ({"docker_config": {"blob": "x" * 70_000}}, "docker_config"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, project, application, field):
    before = sql_value(stack, "SELECT count(*) FROM applications")
    body = {"name": unique("bad"), "type": "docker", **application}
    status, answer = call(stack, people.owner, "POST", f"/v1/projects/{project['id']}/applications", body)
    assert status == 400, answer
    assert violated_field(answer) == field
    assert sql_value(stack, "SELECT count(*) FROM applications") == before


def test_bad_input_over_grpc_too(apps_gateway, apps_direct, people, project):
    for stub in (apps_gateway, apps_direct):
        error = rpc_error(
            stub.CreateApplication,
            projects_pb2.CreateApplicationRequest(
                project_id=project["id"],
                application=projects_pb2.Application(name="ok-name", type="docker", replicas=-2),
            ),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "replicas"
        error = rpc_error(
            stub.ScaleApplication,
            projects_pb2.ScaleApplicationRequest(application_id=str(uuid.uuid4()), replicas=-1),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "replicas"
        error = rpc_error(
            stub.GetApplication, projects_pb2.GetApplicationRequest(application_id="x"), people.owner.metadata
        )
        assert error.code() == INVALID and field_of(error) == "application_id"


def test_names_are_unique_in_a_project(stack, people, project):
    name = unique("dup")
    new_app(stack, people.owner, project["id"], name=name)
    status, body = call(
        stack,
        people.owner,
        "POST",
        f"/v1/projects/{project['id']}/applications",
        {"name": name, "type": "docker"},
    )
    assert status == 409 and violated_field(body) == "name"
    other = create(stack, people.owner)
    new_app(stack, people.owner, other["id"], name=name)  # another project may use it


def test_unknown_and_invisible_applications_are_the_same_not_found(apps_gateway, stack, people, project):
    app = new_app(stack, people.owner, project["id"])
    unknown = str(uuid.uuid4())
    invisible = rpc_error(
        apps_gateway.GetApplication,
        projects_pb2.GetApplicationRequest(application_id=app["id"]),
        people.unrelated.metadata,
    )
    missing = rpc_error(
        apps_gateway.GetApplication,
        projects_pb2.GetApplicationRequest(application_id=unknown),
        people.unrelated.metadata,
    )
    assert invisible.code() == missing.code() == NOT_FOUND
    assert invisible.details().replace(app["id"], "<id>") == missing.details().replace(unknown, "<id>")
    status, _ = call(stack, people.unrelated, "GET", f"/v1/projects/{project['id']}/applications")
    assert status == 404
    status, _ = call(
        stack,
        people.unrelated,
        "POST",
        f"/v1/projects/{project['id']}/applications",
        {"name": "x", "type": "docker"},
    )
    assert status == 404


def test_update_with_a_mask(apps_direct, stack, people, project):
    app = new_app(stack, people.owner, project["id"], docker_config={"image": "a"})
    changed = apps_direct.UpdateApplication(
        projects_pb2.UpdateApplicationRequest(
            application=projects_pb2.Application(
                id=app["id"], name="renamed-" + app["name"][-8:], replicas=3, type="compose"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["name", "replicas"]),
        ),
        metadata=people.member.metadata,
    )
    assert changed.name.startswith("renamed-") and changed.replicas == 3 and changed.type == "docker"
    # Through REST, without a mask: the fields the body sets.
    status, body = call(
        stack, people.member, "PATCH", f"/v1/applications/{app['id']}", {"docker_config": {"image": "b"}}
    )
    assert status == 200 and body["docker_config"] == {"image": "b"} and body["replicas"] == 3
    # type and source type must agree afterwards: changing one alone is refused, both together work.
    status, body = call(stack, people.member, "PATCH", f"/v1/applications/{app['id']}", {"type": "git"})
    assert status == 400 and violated_field(body) == "source_type"
    status, body = call(
        stack,
        people.member,
        "PATCH",
        f"/v1/applications/{app['id']}",
        {"type": "git", "source_type": "gitea"},
    )
    assert status == 200 and (body["type"], body["source_type"]) == ("git", "gitea")
    status, body = call(stack, people.member, "PATCH", f"/v1/applications/{app['id']}", {"status": "running"})
    assert status == 400 and violated_field(body) == "update_mask"
    status, body = call(stack, people.member, "PATCH", f"/v1/applications/{app['id']}", {"name": "Bad Name"})
    assert status == 400 and violated_field(body) == "name"
    assert [e.type for e in outbox(stack, app["id"])] == ["projects.application.created"] + [
        "projects.application.updated"
    ] * 3


def test_a_viewer_of_the_team_reads_but_never_writes(stack, people, project, identity_channel):
    from tests.support.accounts import create_account

    watcher = create_account(identity_channel, people.super_admin, unique("watch")[:20], "developer")
    people.add_member(people.crew, watcher.user, role="viewer")
    app = new_app(stack, people.owner, project["id"])
    eventually(lambda: call(stack, watcher, "GET", f"/v1/applications/{app['id']}")[0] == 200)
    status, _ = call(stack, watcher, "POST", f"/v1/applications/{app['id']}:scale", {"replicas": 2})
    assert status == 403


def test_scale(apps_gateway, stack, people, project):
    app = new_app(stack, people.owner, project["id"])
    scaled = apps_gateway.ScaleApplication(
        projects_pb2.ScaleApplicationRequest(application_id=app["id"], replicas=5),
        metadata=people.member.metadata,
    )
    assert scaled.replicas == 5
    status, to_zero = call(
        stack, people.member, "POST", f"/v1/applications/{app['id']}:scale", {"replicas": 0}
    )
    assert status == 200 and to_zero.get("replicas", 0) == 0
    status, body = call(stack, people.member, "POST", f"/v1/applications/{app['id']}:scale", {"replicas": -3})
    assert status == 400 and violated_field(body) == "replicas"
    assert sql_value(stack, "SELECT replicas FROM applications WHERE id = $1", uuid.UUID(app["id"])) == 0
    assert [e.type for e in outbox(stack, app["id"])].count("projects.application.scaled") == 2
    # Scaling until the deployer says how the scale ended: with no service to scale (never deployed),
    # the application is stopped again.
    assert scaled.status == "scaling" and to_zero["status"] in ("scaling", "stopped")
    eventually(
        lambda: call(stack, people.member, "GET", f"/v1/applications/{app['id']}")[1]["status"] == "stopped"
    )


def test_archive_restore_and_purge(stack, people, project):
    app = new_app(stack, people.owner, project["id"])
    path = f"/v1/applications/{app['id']}"
    listing = f"/v1/projects/{project['id']}/applications"

    def listed(query: str = "") -> set[str]:
        status, body = call(stack, people.owner, "GET", f"{listing}?page_size=100{query}")
        assert status == 200, body
        return {a["id"] for a in body.get("applications", [])}

    assert app["id"] in listed()
    # A team member writes but does not archive (manager rights).
    status, _ = call(stack, people.member, "DELETE", path)
    assert status == 403
    status, archived = call(stack, people.owner, "DELETE", path)
    assert status == 200 and archived["status"] == "archived" and archived["deleted_at"]
    assert app["id"] not in listed()
    assert app["id"] in listed("&show_archived=true")
    assert app["id"] in listed("&show_archived=true&status=archived")
    status, fetched = call(stack, people.owner, "GET", path)
    assert status == 200 and fetched["status"] == "archived"
    # Archived: no update, no scale, no second archive; its name stays taken.
    for method, suffix, body in (
        ("PATCH", "", {"replicas": 2}),
        ("POST", ":scale", {"replicas": 2}),
        ("DELETE", "", None),
    ):
        status, answer = call(stack, people.owner, method, path + suffix, body)
        assert status == 400 and "archived" in answer["message"], (method, suffix, answer)
    status, answer = call(stack, people.owner, "POST", listing, {"name": app["name"], "type": "docker"})
    assert status == 409 and violated_field(answer) == "name" and "purge" in answer["message"]
    # Restore: back in lists, stopped.
    status, restored = call(stack, people.owner, "POST", f"{path}:restore", {})
    assert status == 200 and restored["status"] == "stopped" and "deleted_at" not in restored
    assert app["id"] in listed()
    status, _ = call(stack, people.owner, "POST", f"{path}:restore", {})
    assert status == 400
    # Purge needs it archived first, and manager rights.
    status, answer = call(stack, people.owner, "POST", f"{path}:purge", {})
    assert status == 400 and "not archived" in answer["message"]
    assert call(stack, people.owner, "DELETE", path)[0] == 200
    status, _ = call(stack, people.member, "POST", f"{path}:purge", {})
    assert status == 403
    status, _ = call(stack, people.owner, "POST", f"{path}:purge", {})
    assert status == 200
    assert call(stack, people.owner, "GET", path)[0] == 404
    assert app["id"] not in listed("&show_archived=true")
    # Only now is the name free.
    new_app(stack, people.owner, project["id"], name=app["name"])
    assert [e.type for e in outbox(stack, app["id"])] == [
        "projects.application.created",
        "projects.application.archived",
        "projects.application.restored",
        "projects.application.archived",
        "projects.application.deleted",
    ]
    archived_event = payload(outbox(stack, app["id"])[1], events_pb2.ApplicationChanged)
    assert archived_event.previous_status == "stopped" and archived_event.application.status == "archived"


def test_archiving_uses_the_seed_soft_delete(stack, people, project):
    app = new_app(stack, people.owner, project["id"])
    assert call(stack, people.owner, "DELETE", f"/v1/applications/{app['id']}")[0] == 200
    app_id = uuid.UUID(app["id"])
    assert (
        sql_value(
            stack,
            "SELECT count(*) FROM applications WHERE id = $1 AND status = 'archived' AND deleted_at IS NOT NULL",
            app_id,
        )
        == 1
    )
    assert (
        sql_value(stack, "SELECT count(*) FROM applications WHERE id = $1 AND deleted_at IS NULL", app_id)
        == 0
    )


def test_purge_is_blocked_by_a_mounted_volume_and_takes_everything_else(stack, people, project):
    app = new_app(stack, people.owner, project["id"], type="git", source_type="github")
    app_id = uuid.UUID(app["id"])
    volume = unique("vol")
    domain = f"{unique('d')}.example.com"
    status, source = call(
        stack,
        people.owner,
        "POST",
        f"/v1/applications/{app['id']}/git-source",
        {"provider": "github", "repository": "acme/api"},
    )
    assert status == 200, source
    assert (
        call(
            stack,
            people.owner,
            "POST",
            f"/v1/applications/{app['id']}/env-vars",
            {"key": "PORT", "value": "80"},
        )[0]
        == 200
    )

    async def seed():
        async with admin_database(stack, "projects") as pool:
            await pool.execute(
                "INSERT INTO volumes (project_id, name, mount_path, size_gb, application_id) VALUES ($1, $2, '/data', 1, $3)",
                uuid.UUID(project["id"]),
                volume,
                app_id,
            )
            return await pool.fetchval(
                "INSERT INTO domains (project_id, domain, target_type, target_id) VALUES ($1, $2, 'application', $3) RETURNING id",
                uuid.UUID(project["id"]),
                domain,
                app_id,
            )

    domain_id = asyncio.run(seed())
    assert call(stack, people.owner, "DELETE", f"/v1/applications/{app['id']}")[0] == 200
    status, answer = call(stack, people.owner, "POST", f"/v1/applications/{app['id']}:purge", {})
    assert status == 400 and volume in answer["message"], answer
    assert sql_value(stack, "SELECT count(*) FROM applications WHERE id = $1", app_id) == 1
    assert sql_value(stack, "SELECT count(*) FROM env_vars WHERE application_id = $1", app_id) == 1

    async def unmount():
        async with admin_database(stack, "projects") as pool:
            await pool.execute("UPDATE volumes SET application_id = NULL WHERE name = $1", volume)

    asyncio.run(unmount())
    status, _ = call(stack, people.owner, "POST", f"/v1/applications/{app['id']}:purge", {})
    assert status == 200
    for table, column in (
        ("env_vars", "application_id"),
        ("git_sources", "application_id"),
        ("domains", "target_id"),
    ):
        assert sql_value(stack, f"SELECT count(*) FROM {table} WHERE {column} = $1", app_id) == 0
    assert sql_value(stack, "SELECT count(*) FROM volumes WHERE name = $1", volume) == 1
    assert [e.type for e in outbox(stack, str(domain_id))] == ["projects.domain.deleted"]
    assert [e.type for e in outbox(stack, source["id"])][-1] == "projects.git_source.deleted"
    assert [e.type for e in outbox(stack, app["id"])][-1] == "projects.application.deleted"


def test_list_filters_and_pages_newest_first(stack, people):
    project = create(stack, people.owner)
    created = [
        new_app(
            stack,
            people.owner,
            project["id"],
            type="git" if n % 3 == 0 else "docker",
            **({"source_type": "github"} if n % 3 == 0 else {}),
        )
        for n in range(7)
    ]
    listing = f"/v1/projects/{project['id']}/applications"
    seen, token = [], ""
    while True:
        status, body = call(stack, people.owner, "GET", f"{listing}?page_size=3&page_token={token}")
        assert status == 200, body
        seen += [a["id"] for a in body["applications"]]
        token = body.get("next_page_token", "")
        if not token:
            break
    assert seen == [a["id"] for a in reversed(created)]
    status, body = call(stack, people.owner, "GET", f"{listing}?type=git")
    assert [a["id"] for a in body["applications"]] == [created[n]["id"] for n in (6, 3, 0)]
    status, body = call(stack, people.owner, "GET", f"{listing}?status=running")
    assert status == 200 and body.get("applications", []) == []
    status, body = call(stack, people.owner, "GET", f"{listing}?status=stopped&type=docker")
    assert len(body["applications"]) == 4
    for query, field in (
        ("status=sleeping", "status"),
        ("status=archived", "status"),
        ("type=vm", "type"),
        ("page_size=101", "page_size"),
        ("page_size=2&page_token=garbage", "page_token"),
    ):
        status, body = call(stack, people.owner, "GET", f"{listing}?{query}")
        assert status == 400 and violated_field(body) == field, (query, body)


def test_status_changes_follow_the_table(stack, people, project):
    app = new_app(stack, people.owner, project["id"])
    app_id = uuid.UUID(app["id"])

    async def change(*statuses: str) -> list[str]:
        async with admin_database(stack, "projects") as admin:
            # The service's own work runs as the projects role with every project visible.
            role_pool = admin
            results = []
            for status in statuses:
                try:
                    async with platform_transaction(role_pool) as conn:
                        row = await applications.set_status(conn, app_id, status, actor="")
                    results.append(row["status"])
                except Exception as error:
                    results.append(type(error).__name__)
            return results

    assert asyncio.run(change("deploying", "running", "running", "stopped", "running", "archived")) == [
        "deploying",
        "running",
        "running",  # the same status again changes nothing
        "stopped",
        "FailedPrecondition",
        "FailedPrecondition",
    ]
    events = [e for e in outbox(stack, app["id"]) if e.type == "projects.application.status_changed"]
    assert [
        (
            payload(e, events_pb2.ApplicationChanged).previous_status,
            payload(e, events_pb2.ApplicationChanged).application.status,
        )
        for e in events
    ] == [("stopped", "deploying"), ("deploying", "running"), ("running", "stopped")]
