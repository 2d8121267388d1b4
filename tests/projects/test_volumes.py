"""VolumeService on the running platform: create, read, list in pages, update (mount and unmount),
delete, events, names per project with global Docker names, every constraint named over REST and gRPC, mounts only by a live
application or a database of the same project, and the seed's RESTRICT on what mounts a volume."""

import asyncio
import uuid

import asyncpg
import grpc
import pytest
from google.protobuf import field_mask_pb2

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import DENIED, INVALID, NOT_FOUND, TIMEOUT, field_of, payload, rest, rpc_error
from tests.support.database import admin_database
from tests.support.resources import (
    create,
    insert_application,
    insert_database,
    outbox,
    sql_value,
    unique,
    violated_field,
)
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def volumes_api(gateway_channel):
    return projects_pb2_grpc.VolumeServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def volumes_direct(projects_channel):
    return projects_pb2_grpc.VolumeServiceStub(projects_channel)


# Applications and databases are made with SQL: these tests are about what points at them.


def volume_body(**fields) -> dict:
    return {"name": unique("vol"), "mount_path": "/data", "size_gb": 10, **fields}


def create_volume(stack, account, project_id: str, **fields) -> dict:
    status, body = rest(
        stack.port, "POST", f"/v1/projects/{project_id}/volumes", volume_body(**fields), token=account.token
    )
    assert status == 200, body
    return body


def test_create_get_list_update_delete_over_rest_with_events(stack, people):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    body = create_volume(stack, people.owner, project["id"], name=unique("pgdata"), application_id=app_id)
    assert body["type"] == "docker_volume" and body["size_gb"] == 10 and body["mount_path"] == "/data"
    assert body["application_id"] == app_id and body["project_id"] == project["id"]
    status, fetched = rest(stack.port, "GET", f"/v1/volumes/{body['id']}", token=people.owner.token)
    assert status == 200 and fetched == body
    status, listed = rest(
        stack.port, "GET", f"/v1/projects/{project['id']}/volumes", token=people.owner.token
    )
    assert status == 200 and listed["volumes"] == [body]

    status, updated = rest(
        stack.port,
        "PATCH",
        f"/v1/volumes/{body['id']}?update_mask=size_gb,mount_path,application_id",
        {"size_gb": 20, "mount_path": "/var/lib/data", "application_id": "", "name": "ignored"},
        token=people.owner.token,
    )
    assert status == 200, updated
    assert (updated["size_gb"], updated["mount_path"], updated["name"]) == (20, "/var/lib/data", body["name"])
    assert not updated.get("application_id")

    status, _ = rest(stack.port, "DELETE", f"/v1/volumes/{body['id']}", token=people.owner.token)
    assert status == 200
    status, _ = rest(stack.port, "GET", f"/v1/volumes/{body['id']}", token=people.owner.token)
    assert status == 404
    events = outbox(stack, body["id"])
    assert [e.type for e in events] == [
        "projects.volume.created",
        "projects.volume.updated",
        "projects.volume.deleted",
    ]
    assert {e.actor_user_id for e in events} == {people.owner.id}
    assert payload(events[0], events_pb2.VolumeChanged).volume.application_id == app_id
    assert payload(events[1], events_pb2.VolumeChanged).volume.size_gb == 20


def test_create_update_delete_over_grpc_direct_and_through_the_gateway(
    stack, people, volumes_direct, volumes_api
):
    project = create(stack, people.owner)
    database_id = insert_database(stack, project["id"])
    for api in (volumes_direct, volumes_api):
        created = api.CreateVolume(
            projects_pb2.CreateVolumeRequest(
                project_id=project["id"],
                volume=projects_pb2.Volume(
                    name=unique("nfs"), type="nfs", mount_path="/srv", size_gb=5, database_id=database_id
                ),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert created.type == "nfs" and created.database_id == database_id and created.created_at.seconds
        updated = api.UpdateVolume(
            projects_pb2.UpdateVolumeRequest(
                volume=projects_pb2.Volume(id=created.id, size_gb=50, type="s3"),
                update_mask=field_mask_pb2.FieldMask(paths=["size_gb"]),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert (updated.size_gb, updated.type) == (50, "nfs")
        got = api.GetVolume(
            projects_pb2.GetVolumeRequest(volume_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert got == updated
        api.DeleteVolume(
            projects_pb2.DeleteVolumeRequest(volume_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        error = rpc_error(
            api.GetVolume, projects_pb2.GetVolumeRequest(volume_id=created.id), people.owner.metadata
        )
        assert error.code() == NOT_FOUND


def test_two_projects_may_each_have_a_volume_named_data_under_distinct_docker_names(stack, people):
    first_project, second_project = create(stack, people.owner), create(stack, people.developer)
    first = create_volume(stack, people.owner, first_project["id"], name="data")
    second = create_volume(stack, people.developer, second_project["id"], name="data")
    assert (first["name"], second["name"]) == ("data", "data")
    assert first["docker_name"] == f"dockyard-{uuid.UUID(first_project['id']).hex}-data"
    assert second["docker_name"] == f"dockyard-{uuid.UUID(second_project['id']).hex}-data"
    # Nothing of one project in the other's volume.
    assert first_project["id"] not in str(second) and first["docker_name"] not in str(second)
    assert (
        sql_value(
            stack,
            "SELECT count(DISTINCT docker_name) FROM volumes WHERE id = ANY($1::uuid[])",
            [uuid.UUID(first["id"]), uuid.UUID(second["id"])],
        )
        == 2
    )


def test_a_name_twice_in_one_project_names_the_field(stack, people):
    project = create(stack, people.owner)
    name = unique("twice")
    create_volume(stack, people.owner, project["id"], name=name)
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/projects/{project['id']}/volumes",
        volume_body(name=name),
        token=people.owner.token,
    )
    assert status == 409, body
    assert violated_field(body) == "name" and name in body["message"] and "this project" in body["message"]


async def test_docker_names_are_unique_across_all_projects(stack, people):
    """The seed's global uniqueness, kept for the names Docker sees."""
    first = create_volume(stack, people.owner, create(stack, people.owner)["id"])
    other = create(stack, people.developer)
    async with admin_database(stack, "projects") as pool:
        with pytest.raises(asyncpg.UniqueViolationError, match="uq_volumes_docker_name"):
            await pool.execute(
                "INSERT INTO volumes (project_id, name, docker_name, mount_path, size_gb)"
                " VALUES ($1, 'other', $2, '/data', 1)",
                uuid.UUID(other["id"]),
                first["docker_name"],
            )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "-starts-with-dash"}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"type": "ceph"}, "type"),
        ({"mount_path": "relative/path"}, "mount_path"),
        ({"mount_path": ""}, "mount_path"),
        ({"mount_path": "/with space"}, "mount_path"),
        ({"mount_path": "/" + "a" * 500}, "mount_path"),
        ({"size_gb": 0}, "size_gb"),
        ({"size_gb": -5}, "size_gb"),
        ({"application_id": "not-a-uuid"}, "application_id"),
        ({"database_id": "nope"}, "database_id"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, fields, field):
    project = create(stack, people.owner)
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/projects/{project['id']}/volumes",
        volume_body(**fields),
        token=people.owner.token,
    )
    assert status == 400, body
    assert violated_field(body) == field
    assert (
        sql_value(stack, "SELECT count(*) FROM volumes WHERE project_id = $1", uuid.UUID(project["id"])) == 0
    )


def test_mounts_only_by_a_live_application_or_a_database_of_the_same_project(stack, people, volumes_api):
    project = create(stack, people.owner)
    elsewhere = create(stack, people.developer)
    foreign_app = insert_application(stack, elsewhere["id"])
    foreign_db = insert_database(stack, elsewhere["id"])
    archived_app = insert_application(stack, project["id"], archived=True)
    app_id = insert_application(stack, project["id"])
    db_id = insert_database(stack, project["id"])

    def refused(**mount) -> tuple[str, str]:
        error = rpc_error(
            volumes_api.CreateVolume,
            projects_pb2.CreateVolumeRequest(
                project_id=project["id"], volume=projects_pb2.Volume(**volume_body(**mount))
            ),
            people.owner.metadata,
        )
        assert error.code() == INVALID, error.details()
        return field_of(error), error.details()

    unknown = str(uuid.uuid4())
    field, foreign_message = refused(application_id=foreign_app)
    assert field == "application_id"
    # Another project's application reads exactly like one that does not exist.
    _, unknown_message = refused(application_id=unknown)
    assert foreign_message.replace(foreign_app, "<id>") == unknown_message.replace(unknown, "<id>")
    assert refused(database_id=foreign_db)[0] == "database_id"
    assert refused(database_id=unknown)[0] == "database_id"
    field, message = refused(application_id=archived_app)
    assert field == "application_id" and "archived" in message
    assert refused(application_id=app_id, database_id=db_id)[0] == "database_id"
    assert (
        sql_value(stack, "SELECT count(*) FROM volumes WHERE project_id = $1", uuid.UUID(project["id"])) == 0
    )

    # Mounted by the application; moving it to the database needs the application unmounted.
    volume = create_volume(stack, people.owner, project["id"], application_id=app_id)
    path = f"/v1/volumes/{volume['id']}"
    status, body = rest(
        stack.port,
        "PATCH",
        f"{path}?update_mask=database_id",
        {"database_id": db_id},
        token=people.owner.token,
    )
    assert status == 400 and violated_field(body) == "database_id"
    status, body = rest(
        stack.port,
        "PATCH",
        f"{path}?update_mask=application_id",
        {"application_id": foreign_app},
        token=people.owner.token,
    )
    assert status == 400 and violated_field(body) == "application_id"
    status, body = rest(
        stack.port,
        "PATCH",
        f"{path}?update_mask=application_id,database_id",
        {"application_id": "", "database_id": db_id},
        token=people.owner.token,
    )
    assert status == 200, body
    assert body["database_id"] == db_id and not body.get("application_id")
    assert [e.type for e in outbox(stack, volume["id"])] == [
        "projects.volume.created",
        "projects.volume.updated",
    ]


def test_a_mounted_volume_restricts_deleting_what_mounts_it(stack, people):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    db_id = insert_database(stack, project["id"])
    app_volume = create_volume(stack, people.owner, project["id"], application_id=app_id)
    create_volume(stack, people.owner, project["id"], database_id=db_id)

    async def delete(sql: str, row_id: str) -> None:
        async with admin_database(stack, "projects") as pool:
            await pool.execute(sql, uuid.UUID(row_id))

    with pytest.raises(asyncpg.RestrictViolationError, match="volumes"):
        asyncio.run(delete("DELETE FROM applications WHERE id = $1", app_id))
    with pytest.raises(asyncpg.RestrictViolationError, match="volumes"):
        asyncio.run(delete("DELETE FROM databases WHERE id = $1", db_id))
    assert sql_value(stack, "SELECT count(*) FROM applications WHERE id = $1", uuid.UUID(app_id)) == 1

    # Once unmounted, the application may go.
    status, _ = rest(
        stack.port,
        "PATCH",
        f"/v1/volumes/{app_volume['id']}?update_mask=application_id",
        {"application_id": ""},
        token=people.owner.token,
    )
    assert status == 200
    asyncio.run(delete("DELETE FROM applications WHERE id = $1", app_id))
    # Deleting the project takes its volumes first, then what they mounted.
    assert rest(stack.port, "DELETE", f"/v1/projects/{project['id']}", token=people.owner.token)[0] == 200
    assert sql_value(stack, "SELECT count(*) FROM databases WHERE id = $1", uuid.UUID(db_id)) == 0


def test_who_may_see_and_change_volumes(stack, people, volumes_api):
    project = create(stack, people.owner, team_id=people.crew.id)
    volume = create_volume(stack, people.owner, project["id"])
    request = projects_pb2.GetVolumeRequest(volume_id=volume["id"])
    for stranger in (people.unrelated, people.developer, people.project_limited_admin):
        error = rpc_error(volumes_api.GetVolume, request, stranger.metadata)
        assert error.code() == NOT_FOUND
        assert error.details() == f"volume {volume['id']} not found"
    unknown = str(uuid.uuid4())
    error = rpc_error(
        volumes_api.GetVolume, projects_pb2.GetVolumeRequest(volume_id=unknown), people.owner.metadata
    )
    assert error.details() == f"volume {unknown} not found"
    # The team's member writes (once the membership read model has it); read-only callers never do.
    eventually(
        lambda: rest(stack.port, "GET", f"/v1/volumes/{volume['id']}", token=people.member.token)[0] == 200
    )
    member_volume = create_volume(stack, people.member, project["id"])
    assert member_volume["project_id"] == project["id"]
    delete = projects_pb2.DeleteVolumeRequest(volume_id=volume["id"])
    assert rpc_error(volumes_api.DeleteVolume, delete, people.read_only_admin.metadata).code() == DENIED
    assert (
        rest(stack.port, "GET", f"/v1/volumes/{volume['id']}", token=people.read_only_admin.token)[0] == 200
    )
    status, _ = rest(
        stack.port,
        "POST",
        f"/v1/projects/{project['id']}/volumes",
        volume_body(),
        token=people.unrelated.token,
    )
    assert status == 404


def test_pages_walk_every_volume_once_newest_first(stack, people):
    project = create(stack, people.owner)
    created = [create_volume(stack, people.owner, project["id"])["id"] for _ in range(5)]
    seen, token = [], ""
    while True:
        status, body = rest(
            stack.port,
            "GET",
            f"/v1/projects/{project['id']}/volumes?page_size=2&page_token={token}",
            token=people.owner.token,
        )
        assert status == 200, body
        assert len(body["volumes"]) <= 2
        seen += [v["id"] for v in body["volumes"]]
        token = body.get("next_page_token", "")
        if not token:
            break
    assert seen == list(reversed(created))


def test_deleting_a_database_that_mounts_a_volume_fails_the_precondition(stack, people, gateway_channel):
    databases_api = projects_pb2_grpc.DatabaseServiceStub(gateway_channel)
    project = create(stack, people.owner)
    db_id = insert_database(stack, project["id"])
    volume = create_volume(stack, people.owner, project["id"], database_id=db_id)
    request = projects_pb2.DeleteDatabaseRequest(database_id=db_id)
    error = rpc_error(databases_api.DeleteDatabase, request, people.owner.metadata)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert volume["name"] in error.details()
    assert sql_value(stack, "SELECT count(*) FROM databases WHERE id = $1", uuid.UUID(db_id)) == 1
    status, _ = rest(
        stack.port,
        "PATCH",
        f"/v1/volumes/{volume['id']}?update_mask=database_id",
        {"database_id": ""},
        token=people.owner.token,
    )
    assert status == 200
    databases_api.DeleteDatabase(request, metadata=people.owner.metadata, timeout=TIMEOUT)
    assert sql_value(stack, "SELECT count(*) FROM databases WHERE id = $1", uuid.UUID(db_id)) == 0


def test_purging_an_application_that_mounts_a_volume_fails_the_precondition(stack, people, gateway_channel):
    applications_api = projects_pb2_grpc.ApplicationServiceStub(gateway_channel)
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"], archived=True)
    volume_id = str(
        sql_value(
            stack,
            "INSERT INTO volumes (project_id, name, mount_path, size_gb, application_id)"
            " VALUES ($1, $2, '/data', 1, $3) RETURNING id",
            uuid.UUID(project["id"]),
            unique("vol"),
            uuid.UUID(app_id),
        )
    )
    request = projects_pb2.PurgeApplicationRequest(application_id=app_id)
    error = rpc_error(applications_api.PurgeApplication, request, people.owner.metadata)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "volume" in error.details()
    assert sql_value(stack, "SELECT count(*) FROM applications WHERE id = $1", uuid.UUID(app_id)) == 1
    # Unmounting from an archived application is allowed (mounting on one is not); then it may go.
    status, _ = rest(
        stack.port,
        "PATCH",
        f"/v1/volumes/{volume_id}?update_mask=application_id",
        {"application_id": ""},
        token=people.owner.token,
    )
    assert status == 200
    applications_api.PurgeApplication(request, metadata=people.owner.metadata, timeout=TIMEOUT)
    assert sql_value(stack, "SELECT count(*) FROM applications WHERE id = $1", uuid.UUID(app_id)) == 0
