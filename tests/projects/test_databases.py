"""DatabaseService on the running platform: create (generated credentials, sealed at rest), read,
list with filters and pages, update, delete (refused while a volume is mounted; domains routed to it
go with it), credentials masked everywhere but the reveal call, which only managers may make and
which is an event. REST through the gateway and gRPC, directly too."""

import asyncio
import base64
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from dockyard_kit.crypto import key_id_of
from services.projects.credentials import MASK
from tests.support.accounts import Account, create_account
from tests.support.calls import (
    DENIED,
    INVALID,
    NOT_FOUND,
    OK,
    UNAUTHENTICATED,
    code_of,
    field_of,
    payload,
    rest,
    rpc_error,
)
from tests.support.database import admin_database
from tests.support.resources import create, outbox, sql_value, unique
from tests.support.waiting import eventually

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS


@pytest.fixture(scope="module")
def databases_api(gateway_channel):
    return projects_pb2_grpc.DatabaseServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def direct_api(projects_channel):
    """Straight to the projects service, bypassing the gateway."""
    return projects_pb2_grpc.DatabaseServiceStub(projects_channel)


@pytest.fixture(scope="module")
def team_admin(stack, people, identity_channel) -> Account:
    """An admin of crew (not a platform admin), once the projects service knows it."""
    account = create_account(identity_channel, people.super_admin, f"ca{uuid.uuid4().hex[:8]}", "developer")
    people.add_member(people.crew, account.user, role="admin")
    eventually(
        lambda: rest(stack.port, "POST", "/v1/projects", {"name": unique("probe"), "team_id": people.crew.id},
                     token=account.token)[0] == 200
    )  # fmt: skip
    return account


@pytest.fixture(scope="module")
def crew_project(stack, people) -> dict:
    """A project of `owner` in crew, where `member` writes."""
    return create(stack, people.owner, team_id=people.crew.id)


def create_database(stack, account, project_id: str, **fields) -> dict:
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/projects/{project_id}/databases",
        {"name": unique("db"), "type": "postgresql", **fields},
        token=account.token,
    )
    assert status == 200, body
    return body


def reveal(stack, account, database_id: str) -> tuple[int, dict]:
    return rest(stack.port, "POST", f"/v1/databases/{database_id}:reveal", {}, token=account.token)


def admin_sql(stack, sql: str, *args):
    async def run():
        async with admin_database(stack, "projects") as pool:
            return await pool.fetch(sql, *args)

    return asyncio.run(run())


def test_create_get_update_delete_over_rest(stack, people, crew_project):
    project_id = crew_project["id"]
    created = create_database(
        stack, people.member, project_id, name="orders-db", config={"max_connections": 100}
    )
    assert created["project_id"] == project_id and created["name"] == "orders-db"
    assert created["type"] == "postgresql" and created["version"] == "18"
    assert created["status"] == "initializing" and created["config"] == {"max_connections": 100}
    assert created["username"].startswith("orders_db_")
    assert created["connection_string"] == (
        f"postgresql://{created['username']}:{MASK}@orders-db:5432/orders_db"
    )
    path = f"/v1/databases/{created['id']}"
    assert rest(stack.port, "GET", path, token=people.viewer.token)[0] == 404
    status, fetched = rest(stack.port, "GET", path, token=people.member.token)
    assert status == 200 and fetched == created

    status, updated = rest(
        stack.port, "PATCH", path, {"version": "17", "config": {"shared_buffers": "256MB"}},
        token=people.member.token,
    )  # fmt: skip
    assert status == 200, updated
    assert updated["version"] == "17" and updated["config"] == {"shared_buffers": "256MB"}
    assert updated["name"] == "orders-db" and updated["updated_at"] > created["updated_at"]

    status, _ = rest(stack.port, "DELETE", path, token=people.member.token)
    assert status == 200
    assert rest(stack.port, "GET", path, token=people.member.token)[0] == 404
    events = outbox(stack, created["id"])
    assert [event.type for event in events] == [
        "projects.database.created",
        "projects.database.updated",
        "projects.database.deleted",
    ]
    assert all(event.actor_user_id == people.member.id for event in events)
    last = payload(events[-1], events_pb2.DatabaseChanged).database
    assert last.version == "17" and MASK in last.connection_string


@pytest.mark.parametrize(
    ("db_type", "port", "version"),
    [("postgresql", 5432, "18"), ("mysql", 3306, "8.4"), ("mongodb", 27017, "8.0"), ("redis", 6379, "7.4")],
)
def test_every_type_gets_its_default_version_and_port(stack, people, crew_project, db_type, port, version):
    body = create_database(stack, people.owner, crew_project["id"], type=db_type)
    assert body["version"] == version and f":{port}/" in body["connection_string"]
    chosen = create_database(stack, people.owner, crew_project["id"], type=db_type, version="1.2.3-alpine")
    assert chosen["version"] == "1.2.3-alpine"


def test_status_is_output_only(stack, people, crew_project):
    body = create_database(stack, people.owner, crew_project["id"], status="running")
    assert body["status"] == "initializing"
    status, answer = rest(
        stack.port, "PATCH", f"/v1/databases/{body['id']}?update_mask=status", {"status": "running"},
        token=people.owner.token,
    )  # fmt: skip
    assert status == 400 and answer["details"][0]["field_violations"][0]["field"] == "update_mask"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Orders"}, "name"),
        ({"name": "1orders"}, "name"),
        ({"name": "x" * 64}, "name"),
        ({"name": "orders db"}, "name"),
        ({"name": ""}, "name"),
        ({"type": "oracle"}, "type"),
        ({"type": ""}, "type"),
        ({"version": "not a version"}, "version"),
        ({"version": "v" * 51}, "version"),
        ({"version": "-1"}, "version"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, crew_project, fields, field):
    before = sql_value(stack, "SELECT count(*) FROM databases")
    status, body = rest(
        stack.port, "POST", f"/v1/projects/{crew_project['id']}/databases",
        {"name": unique("db"), "type": "mysql", **fields}, token=people.owner.token,
    )  # fmt: skip
    assert status == 400, body
    assert body["details"][0]["field_violations"][0]["field"] == field
    assert sql_value(stack, "SELECT count(*) FROM databases") == before


def test_names_are_unique_per_project(stack, people, crew_project, databases_api):
    name = unique("shared")
    create_database(stack, people.owner, crew_project["id"], name=name)
    error = rpc_error(
        databases_api.CreateDatabase,
        projects_pb2.CreateDatabaseRequest(
            project_id=crew_project["id"], database=projects_pb2.Database(name=name, type="redis")
        ),
        people.owner.metadata,
    )
    assert error.code() == ALREADY_EXISTS and field_of(error) == "name" and name in error.details()
    other = create(stack, people.owner)
    create_database(stack, people.owner, other["id"], name=name)  # another project may use it


def test_bad_ids_and_masks_over_grpc(databases_api, direct_api, people, crew_project):
    for api in (databases_api, direct_api):
        error = rpc_error(
            api.GetDatabase, projects_pb2.GetDatabaseRequest(database_id="nope"), people.owner.metadata
        )
        assert error.code() == INVALID and field_of(error) == "database_id"
        error = rpc_error(
            api.ListDatabases,
            projects_pb2.ListDatabasesRequest(project_id=crew_project["id"], status="paused"),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "status"
        error = rpc_error(
            api.UpdateDatabase,
            projects_pb2.UpdateDatabaseRequest(
                database=projects_pb2.Database(id=str(uuid.uuid4()), name="renamed"),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            ),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "update_mask"


def test_unknown_and_invisible_databases_are_the_same_not_found(stack, people, crew_project, direct_api):
    mine = create_database(stack, people.owner, crew_project["id"])
    for database_id in (mine["id"], str(uuid.uuid4())):
        for call, request in (
            (direct_api.GetDatabase, projects_pb2.GetDatabaseRequest(database_id=database_id)),
            (direct_api.DeleteDatabase, projects_pb2.DeleteDatabaseRequest(database_id=database_id)),
            (
                direct_api.RevealDatabaseCredentials,
                projects_pb2.RevealDatabaseCredentialsRequest(database_id=database_id),
            ),
        ):
            error = rpc_error(call, request, people.unrelated.metadata)
            assert error.code() == NOT_FOUND and error.details() == f"database {database_id} not found"
    error = rpc_error(
        direct_api.ListDatabases,
        projects_pb2.ListDatabasesRequest(project_id=crew_project["id"]),
        people.unrelated.metadata,
    )
    assert error.code() == NOT_FOUND


def test_list_is_newest_first_filtered_and_paged(stack, people):
    project_id = create(stack, people.owner)["id"]
    made = [
        create_database(stack, people.owner, project_id, type=db_type)["id"]
        for db_type in ("postgresql", "redis", "mysql", "redis")
    ]
    base = f"/v1/projects/{project_id}/databases"

    def ids(query: str = "") -> list[str]:
        status, body = rest(stack.port, "GET", f"{base}?{query}", token=people.owner.token)
        assert status == 200, body
        return [database["id"] for database in body.get("databases", [])]

    assert ids() == made[::-1]
    assert ids("type=redis") == [made[3], made[1]]
    assert ids("status=initializing") == made[::-1]
    assert ids("status=running") == []
    status, body = rest(stack.port, "GET", f"{base}?type=oracle", token=people.owner.token)
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == "type"

    status, first = rest(stack.port, "GET", f"{base}?page_size=3", token=people.owner.token)
    assert [d["id"] for d in first["databases"]] == made[:0:-1] and first["next_page_token"]
    status, second = rest(
        stack.port,
        "GET",
        f"{base}?page_size=3&page_token={first['next_page_token']}",
        token=people.owner.token,
    )
    assert [d["id"] for d in second["databases"]] == [made[0]] and not second.get("next_page_token")
    status, body = rest(
        stack.port,
        "GET",
        f"{base}?type=redis&page_token={first['next_page_token']}",
        token=people.owner.token,
    )
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == "page_token"


def test_credentials_are_sealed_at_rest_and_masked_everywhere(stack, people, crew_project):
    created = create_database(stack, people.owner, crew_project["id"], type="mongodb")
    status, revealed = reveal(stack, people.owner, created["id"])
    assert status == 200, revealed
    password = revealed["password"]
    assert len(password) == 32 and revealed["username"] == created["username"]
    assert revealed["connection_string"] == created["connection_string"].replace(MASK, password)
    assert revealed["database_id"] == created["id"]

    [row] = admin_sql(
        stack, "SELECT connection_string FROM databases WHERE id = $1", uuid.UUID(created["id"])
    )
    stored = row["connection_string"]
    assert password not in stored and created["username"] not in stored
    sealed = base64.b64decode(stored)
    assert password.encode() not in sealed and b"mongodb://" not in sealed
    assert len(key_id_of(sealed)) == 16  # names the master key it was sealed under

    status, fetched = rest(stack.port, "GET", f"/v1/databases/{created['id']}", token=people.owner.token)
    assert password not in str(fetched) and MASK in fetched["connection_string"]
    status, listed = rest(
        stack.port,
        "GET",
        f"/v1/projects/{crew_project['id']}/databases?page_size=100",
        token=people.owner.token,
    )
    assert password not in str(listed)
    envelopes = admin_sql(stack, "SELECT envelope FROM outbox")
    assert not any(password.encode() in row["envelope"] for row in envelopes)
    [event] = [e for e in outbox(stack, created["id"]) if e.type == "projects.database.created"]
    assert (
        payload(event, events_pb2.DatabaseChanged).database.connection_string == created["connection_string"]
    )


def test_reveal_is_for_managers_only(stack, people, team_admin, crew_project, databases_api, direct_api):
    # crew_project: owner is its owner and crew's owner; team_admin is an admin of crew.
    mine = create_database(stack, people.owner, crew_project["id"])
    # A crew project team_admin owns: owner manages it as crew's owner only.
    theirs_project = create(stack, team_admin, team_id=people.crew.id)
    theirs = create_database(stack, team_admin, theirs_project["id"])
    expected = {
        "owner": OK,
        "super_admin": OK,
        "admin": OK,
        "member": DENIED,
        "read_only_admin": DENIED,
        "project_limited_admin": NOT_FOUND,
        "developer": NOT_FOUND,
        "viewer": NOT_FOUND,
        "unrelated": NOT_FOUND,
        "anonymous": UNAUTHENTICATED,
    }
    for api in (databases_api, direct_api):
        for database in (mine, theirs):
            request = projects_pb2.RevealDatabaseCredentialsRequest(database_id=database["id"])
            got = {
                name: code_of(api.RevealDatabaseCredentials, request, getattr(people, name).metadata)
                for name in expected
            }
            assert got == expected, database
            assert code_of(api.RevealDatabaseCredentials, request, team_admin.metadata) == OK
    status, body = reveal(stack, people.member, mine["id"])
    assert status == 403 and "manager" in body["message"]
    assert reveal(stack, people.unrelated, mine["id"])[0] == 404


def test_a_reveal_is_an_event_naming_who_asked(stack, people, crew_project):
    created = create_database(stack, people.owner, crew_project["id"], type="redis")
    assert reveal(stack, people.admin, created["id"])[0] == 200
    assert reveal(stack, people.member, created["id"])[0] == 403
    [event] = [e for e in outbox(stack, created["id"]) if e.type == "projects.secret.revealed"]
    assert event.actor_user_id == people.admin.id
    revealed = payload(event, events_pb2.SecretRevealed)
    assert revealed == events_pb2.SecretRevealed(
        project_id=crew_project["id"], resource_type="database", resource_id=created["id"], what="credentials"
    )


def test_a_mounted_volume_blocks_deletion(stack, people, crew_project, databases_api):
    created = create_database(stack, people.owner, crew_project["id"])
    volume = unique("pgdata")
    admin_sql(
        stack,
        "INSERT INTO volumes (project_id, name, mount_path, size_gb, database_id) VALUES ($1, $2, '/data', 5, $3)",
        uuid.UUID(crew_project["id"]),
        volume,
        uuid.UUID(created["id"]),
    )
    request = projects_pb2.DeleteDatabaseRequest(database_id=created["id"])
    error = rpc_error(databases_api.DeleteDatabase, request, people.owner.metadata)
    assert error.code() == FAILED_PRECONDITION and volume in error.details()
    status, body = rest(stack.port, "DELETE", f"/v1/databases/{created['id']}", token=people.owner.token)
    assert status == 400 and volume in body["message"]
    assert [e.type for e in outbox(stack, created["id"])] == ["projects.database.created"]

    admin_sql(stack, "DELETE FROM volumes WHERE name = $1", volume)
    assert code_of(databases_api.DeleteDatabase, request, people.owner.metadata) == OK


def test_deletion_takes_the_domains_routed_to_it_with_their_certificates(stack, people, crew_project):
    created = create_database(stack, people.owner, crew_project["id"])
    database_id, project_id = uuid.UUID(created["id"]), uuid.UUID(crew_project["id"])
    [domain] = admin_sql(
        stack,
        "INSERT INTO domains (project_id, domain, target_type, target_id)"
        " VALUES ($1, $2, 'database', $3) RETURNING id",
        project_id,
        f"{unique('db')}.example.com",
        database_id,
    )
    [certificate] = admin_sql(
        stack,
        "INSERT INTO certificates (domain_id, issuer, certificate, private_key, expires_at)"
        " VALUES ($1, 'Test CA', 'PEM', 'sealed', now() + interval '30 days') RETURNING id",
        domain["id"],
    )
    status, _ = rest(stack.port, "DELETE", f"/v1/databases/{created['id']}", token=people.owner.token)
    assert status == 200
    assert admin_sql(stack, "SELECT id FROM domains WHERE id = $1", domain["id"]) == []

    async def deleted_types():
        async with admin_database(stack, "projects") as pool:
            rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
        events = [Event.FromString(row["envelope"]) for row in rows]
        wanted = {str(certificate["id"]), str(domain["id"]), created["id"]}
        return [e.type for e in events if e.resource_id in wanted and e.type.endswith(".deleted")]

    assert asyncio.run(deleted_types()) == [
        "projects.certificate.deleted",
        "projects.domain.deleted",
        "projects.database.deleted",
    ]


def test_update_over_grpc_with_a_mask(databases_api, stack, people, crew_project):
    created = create_database(stack, people.owner, crew_project["id"], config={"keep": True})
    config = struct_pb2.Struct()
    config.update({"max_connections": 50})
    updated = databases_api.UpdateDatabase(
        projects_pb2.UpdateDatabaseRequest(
            database=projects_pb2.Database(id=created["id"], version="99", config=config),
            update_mask=field_mask_pb2.FieldMask(paths=["config"]),
        ),
        metadata=people.member.metadata,
        timeout=30,
    )
    assert updated.version == created["version"] and dict(updated.config) == {"max_connections": 50}
    viewer_error = rpc_error(
        databases_api.UpdateDatabase,
        projects_pb2.UpdateDatabaseRequest(
            database=projects_pb2.Database(id=created["id"], version="17"),
            update_mask=field_mask_pb2.FieldMask(paths=["version"]),
        ),
        people.read_only_admin.metadata,
    )
    assert viewer_error.code() == DENIED
