"""EnvVarService on the running platform: CRUD through REST and gRPC, keys and values checked,
secrets sealed at rest (ciphertext in the column, never in the applications.env_vars mirror),
masked everywhere but a manager's reveal, .env import all or nothing, events for every change."""

import asyncio
import base64
import uuid

import pytest
from google.protobuf import field_mask_pb2

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import DENIED, INVALID, NOT_FOUND, field_of, payload, rpc_error
from tests.support.database import admin_database
from tests.support.resources import call, create, new_app, outbox, sql_value, violated_field
from tests.support.waiting import eventually

MASK = "********"


@pytest.fixture(scope="module")
def env_gateway(gateway_channel):
    return projects_pb2_grpc.EnvVarServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def env_direct(projects_channel):
    return projects_pb2_grpc.EnvVarServiceStub(projects_channel)


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    return create(stack, people.owner, team_id=people.crew.id)


@pytest.fixture
def app(stack, people, project) -> dict:
    return new_app(stack, people.owner, project["id"])


def env_path(app: dict, suffix: str = "") -> str:
    return f"/v1/applications/{app['id']}/env-vars{suffix}"


def raw_row(stack, app: dict, key: str):
    async def read():
        async with admin_database(stack, "projects") as pool:
            return await pool.fetchrow(
                "SELECT e.value, e.is_secret, a.env_vars::text AS mirror FROM env_vars e"
                " JOIN applications a ON a.id = e.application_id WHERE e.application_id = $1 AND e.key = $2",
                uuid.UUID(app["id"]),
                key,
            )

    return asyncio.run(read())


def mirror(stack, app: dict) -> str:
    return sql_value(stack, "SELECT env_vars::text FROM applications WHERE id = $1", uuid.UUID(app["id"]))


def test_plain_variables_crud_and_the_mirror(stack, people, app):
    status, created = call(stack, people.member, "POST", env_path(app), {"key": "PORT", "value": "8080"})
    assert status == 200, created
    assert (created["key"], created["value"], created.get("is_secret", False)) == ("PORT", "8080", False)
    assert call(stack, people.member, "GET", env_path(app, "/PORT"))[1] == created
    status, application = call(stack, people.member, "GET", f"/v1/applications/{app['id']}")
    assert application["env_vars"] == {"PORT": "8080"}
    status, updated = call(stack, people.member, "PATCH", env_path(app, "/PORT"), {"value": "9090"})
    assert status == 200 and updated["value"] == "9090"
    assert call(stack, people.member, "GET", f"/v1/applications/{app['id']}")[1]["env_vars"] == {
        "PORT": "9090"
    }
    status, _ = call(stack, people.member, "DELETE", env_path(app, "/PORT"))
    assert status == 200
    assert call(stack, people.member, "GET", env_path(app, "/PORT"))[0] == 404
    assert mirror(stack, app) == "{}"
    events = outbox(stack, created["id"])
    assert [e.type for e in events] == [
        "projects.env_var.created",
        "projects.env_var.updated",
        "projects.env_var.deleted",
    ]
    assert payload(events[0], events_pb2.EnvVarChanged).project_id == app["project_id"]


@pytest.mark.parametrize(
    ("env_var", "field"),
    [
        ({"key": "lower", "value": "x"}, "key"),
        ({"key": "9LIVES", "value": "x"}, "key"),
        ({"key": "HAS-DASH", "value": "x"}, "key"),
        ({"key": "A" * 256, "value": "x"}, "key"),
        ({"key": "", "value": "x"}, "key"),
        ({"key": "BIG", "value": "x" * (64 * 1024 + 1)}, "value"),
        ({"key": "NUL", "value": "a\u0000b"}, "value"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, app, env_var, field):
    status, body = call(stack, people.owner, "POST", env_path(app), env_var)
    assert status == 400, body
    assert violated_field(body) == field
    assert (
        sql_value(stack, "SELECT count(*) FROM env_vars WHERE application_id = $1", uuid.UUID(app["id"])) == 0
    )


def test_keys_are_unique_per_application(stack, people, app, project):
    assert call(stack, people.owner, "POST", env_path(app), {"key": "DUP", "value": "1"})[0] == 200
    status, body = call(stack, people.owner, "POST", env_path(app), {"key": "DUP", "value": "2"})
    assert status == 409 and violated_field(body) == "key" and "DUP" in body["message"]
    other = new_app(stack, people.owner, project["id"])
    assert call(stack, people.owner, "POST", env_path(other), {"key": "DUP", "value": "2"})[0] == 200


def test_grpc_paths_and_errors(env_gateway, env_direct, people, app):
    for n, stub in enumerate((env_gateway, env_direct)):
        key = f"GRPC_{n}"
        created = stub.CreateEnvVar(
            projects_pb2.CreateEnvVarRequest(
                application_id=app["id"], env_var=projects_pb2.EnvVar(key=key, value="v")
            ),
            metadata=people.member.metadata,
        )
        assert created.key == key and created.value == "v"
        got = stub.GetEnvVar(
            projects_pb2.GetEnvVarRequest(application_id=app["id"], key=key), metadata=people.member.metadata
        )
        assert got == created
        error = rpc_error(
            stub.CreateEnvVar,
            projects_pb2.CreateEnvVarRequest(
                application_id=app["id"], env_var=projects_pb2.EnvVar(key="bad key")
            ),
            people.member.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "key"
        error = rpc_error(
            stub.UpdateEnvVar,
            projects_pb2.UpdateEnvVarRequest(
                application_id=app["id"],
                env_var=projects_pb2.EnvVar(key=key, value="v"),
                update_mask=field_mask_pb2.FieldMask(paths=["key"]),
            ),
            people.member.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "update_mask"
        error = rpc_error(
            stub.GetEnvVar,
            projects_pb2.GetEnvVarRequest(application_id=app["id"], key="MISSING"),
            people.member.metadata,
        )
        assert error.code() == NOT_FOUND
        error = rpc_error(
            stub.ListEnvVars,
            projects_pb2.ListEnvVarsRequest(application_id=app["id"]),
            people.unrelated.metadata,
        )
        assert error.code() == NOT_FOUND


def test_secrets_are_sealed_masked_and_never_mirrored(stack, people, app, env_direct):
    plaintext = "s3cr3t-value-" + uuid.uuid4().hex
    status, created = call(
        stack, people.member, "POST", env_path(app), {"key": "API_KEY", "value": plaintext, "is_secret": True}
    )
    assert status == 200 and created["value"] == MASK and created["is_secret"] is True
    row = raw_row(stack, app, "API_KEY")
    assert row["is_secret"] and plaintext not in row["value"]
    assert plaintext.encode() not in base64.b64decode(row["value"])
    assert plaintext not in row["mirror"] and "API_KEY" not in row["mirror"]
    assert call(stack, people.member, "GET", env_path(app, "/API_KEY"))[1]["value"] == MASK
    listed = env_direct.ListEnvVars(
        projects_pb2.ListEnvVarsRequest(application_id=app["id"]), metadata=people.member.metadata
    )
    assert [(v.key, v.value) for v in listed.env_vars] == [("API_KEY", MASK)]
    assert "API_KEY" not in call(stack, people.member, "GET", f"/v1/applications/{app['id']}")[1].get(
        "env_vars", {}
    )
    for event in outbox(stack, created["id"]):
        assert plaintext.encode() not in event.SerializeToString()
    # Made plain by a manager, it is stored (and mirrored) in plaintext; made secret again, sealed
    # again. (false is proto3's default, so the mask must name it.)
    status, plain = call(
        stack, people.owner, "PATCH", env_path(app, "/API_KEY?update_mask=is_secret"), {"is_secret": False}
    )
    assert status == 200 and plain["value"] == plaintext
    assert raw_row(stack, app, "API_KEY")["value"] == plaintext and plaintext in mirror(stack, app)
    status, sealed = call(stack, people.member, "PATCH", env_path(app, "/API_KEY"), {"is_secret": True})
    assert status == 200 and sealed["value"] == MASK
    row = raw_row(stack, app, "API_KEY")
    assert row["value"] != plaintext and "API_KEY" not in row["mirror"]
    # A new secret value through the mask keeps it sealed.
    status, _ = call(stack, people.member, "PATCH", env_path(app, "/API_KEY"), {"value": "rotated-value"})
    assert status == 200 and raw_row(stack, app, "API_KEY")["value"] != "rotated-value"
    status, revealed = call(stack, people.owner, "POST", env_path(app, "/API_KEY:reveal"), {})
    assert status == 200 and revealed["value"] == "rotated-value"


def unseal(stack, account, app: dict, key: str, body: dict | None = None) -> tuple[int, dict]:
    """PATCH `key` to a plain variable (with `body`'s other fields); false is proto3's default, so
    the mask names is_secret."""
    mask = ",".join(["is_secret", *(body or {})])
    return call(
        stack,
        account,
        "PATCH",
        env_path(app, f"/{key}?update_mask={mask}"),
        {"is_secret": False, **(body or {})},
    )


def test_a_member_cannot_make_a_secret_plain_without_a_new_value(stack, people, app, env_direct):
    plaintext = "kept-secret-" + uuid.uuid4().hex
    status, created = call(
        stack, people.owner, "POST", env_path(app), {"key": "DB_PASS", "value": plaintext, "is_secret": True}
    )
    assert status == 200, created
    sealed = raw_row(stack, app, "DB_PASS")
    events_before = outbox(stack, created["id"])
    status, body = unseal(stack, people.member, app, "DB_PASS")
    assert status == 403 and "is_secret" in body["message"] and "manager" in body["message"], body
    assert plaintext not in str(body)
    error = rpc_error(
        env_direct.UpdateEnvVar,
        projects_pb2.UpdateEnvVarRequest(
            application_id=app["id"],
            env_var=projects_pb2.EnvVar(key="DB_PASS", is_secret=False),
            update_mask=field_mask_pb2.FieldMask(paths=["is_secret"]),
        ),
        people.member.metadata,
    )
    assert error.code() == DENIED and plaintext not in error.details()
    assert raw_row(stack, app, "DB_PASS") == sealed  # still sealed, never mirrored
    assert plaintext not in mirror(stack, app)
    assert outbox(stack, created["id"]) == events_before  # no event either
    # With a new value in the same update nothing of the old secret is produced: a member may.
    status, replaced = unseal(stack, people.member, app, "DB_PASS", {"value": "public-now"})
    assert status == 200 and (replaced["value"], replaced.get("is_secret", False)) == ("public-now", False)
    assert raw_row(stack, app, "DB_PASS")["value"] == "public-now"
    assert [e.type for e in outbox(stack, created["id"])][len(events_before) :] == [
        "projects.env_var.updated"
    ]
    for event in outbox(stack, created["id"]):
        assert plaintext.encode() not in event.SerializeToString()


def test_a_manager_making_a_secret_plain_is_a_reveal(stack, people, app):
    plaintext = "to-be-shown-" + uuid.uuid4().hex
    status, created = call(
        stack, people.member, "POST", env_path(app), {"key": "SHOWN", "value": plaintext, "is_secret": True}
    )
    assert status == 200, created
    status, plain = unseal(stack, people.owner, app, "SHOWN")
    assert status == 200 and (plain["value"], plain.get("is_secret", False)) == (plaintext, False), plain
    events = outbox(stack, created["id"])
    assert [e.type for e in events] == [
        "projects.env_var.created",
        "projects.secret.revealed",
        "projects.env_var.updated",
    ]
    revealed = payload(events[1], events_pb2.SecretRevealed)
    assert (events[1].actor_user_id, revealed.resource_type, revealed.what) == (
        people.owner.id,
        "env_var",
        "SHOWN",
    )
    updated = payload(events[2], events_pb2.EnvVarChanged).env_var
    assert (updated.is_secret, updated.value) == (False, MASK)  # the event never carries the old secret
    for event in events:
        assert plaintext.encode() not in event.SerializeToString()


def test_reveal_is_for_managers_and_is_an_event(stack, people, app, env_gateway, identity_channel):
    from tests.support.accounts import create_account

    call(
        stack, people.owner, "POST", env_path(app), {"key": "TOKEN", "value": "t0ps3cret", "is_secret": True}
    )
    team_admin = create_account(
        identity_channel, people.super_admin, f"ta{uuid.uuid4().hex[:8]}", "developer"
    )
    people.add_member(people.crew, team_admin.user, role="admin")
    eventually(lambda: call(stack, team_admin, "GET", env_path(app, "/TOKEN"))[0] == 200)
    for manager in (people.owner, team_admin, people.admin, people.super_admin):
        status, body = call(stack, manager, "POST", env_path(app, "/TOKEN:reveal"), {})
        assert status == 200 and body["value"] == "t0ps3cret", body
    request = projects_pb2.RevealEnvVarRequest(application_id=app["id"], key="TOKEN")
    assert env_gateway.RevealEnvVar(request, metadata=people.owner.metadata).value == "t0ps3cret"
    assert rpc_error(env_gateway.RevealEnvVar, request, people.member.metadata).code() == DENIED
    assert rpc_error(env_gateway.RevealEnvVar, request, people.unrelated.metadata).code() == NOT_FOUND
    assert call(stack, people.member, "POST", env_path(app, "/TOKEN:reveal"), {})[0] == 403
    assert call(stack, people.unrelated, "POST", env_path(app, "/TOKEN:reveal"), {})[0] == 404
    assert call(stack, people.read_only_admin, "POST", env_path(app, "/TOKEN:reveal"), {})[0] == 403
    token_id = call(stack, people.owner, "GET", env_path(app, "/TOKEN"))[1]["id"]
    reveals = [e for e in outbox(stack, token_id) if e.type == "projects.secret.revealed"]
    assert len(reveals) == 5
    assert [e.actor_user_id for e in reveals[:4]] == [
        people.owner.id,
        team_admin.id,
        people.admin.id,
        people.super_admin.id,
    ]
    revealed = payload(reveals[0], events_pb2.SecretRevealed)
    assert (revealed.project_id, revealed.resource_type, revealed.resource_id, revealed.what) == (
        app["project_id"],
        "env_var",
        token_id,
        "TOKEN",
    )


def test_list_in_key_order_with_pages(stack, people, app):
    keys = ["ZED", "ALPHA", "MIDDLE", "BETA", "_UNDER"]
    for key in keys:
        assert call(stack, people.member, "POST", env_path(app), {"key": key, "value": key.lower()})[0] == 200
    seen, token = [], ""
    while True:
        status, body = call(stack, people.member, "GET", env_path(app, f"?page_size=2&page_token={token}"))
        assert status == 200, body
        seen += [v["key"] for v in body["env_vars"]]
        token = body.get("next_page_token", "")
        if not token:
            break
    assert seen == sorted(keys)
    status, body = call(stack, people.member, "GET", env_path(app, "?page_size=500"))
    assert status == 400 and violated_field(body) == "page_size"


def test_import_dotenv(stack, people, app):
    for key, value, secret in (
        ("KEEP", "same", False),
        ("CHANGE", "old", False),
        ("DROP", "x", False),
        ("HIDDEN", "h", True),
    ):
        call(stack, people.member, "POST", env_path(app), {"key": key, "value": value, "is_secret": secret})
    ids = {v["key"]: v["id"] for v in call(stack, people.member, "GET", env_path(app))[1]["env_vars"]}
    text = "# deploy settings\nexport KEEP=same\nCHANGE=\"new\\nline\"\nHIDDEN=h2\n\nNEW='single $quoted' # comment\n"
    status, body = call(
        stack, people.member, "POST", env_path(app, ":import"), {"dotenv": text, "replace": True}
    )
    assert status == 200, body
    assert [(v["key"], v["value"]) for v in body["env_vars"]] == [
        ("CHANGE", "new\nline"),
        ("HIDDEN", MASK),  # a secret stays secret
        ("KEEP", "same"),
        ("NEW", "single $quoted"),
    ]
    assert body["deleted_keys"] == ["DROP"]
    assert [e.type for e in outbox(stack, ids["KEEP"])] == ["projects.env_var.created"]
    assert [e.type for e in outbox(stack, ids["CHANGE"])][-1] == "projects.env_var.updated"
    assert [e.type for e in outbox(stack, ids["HIDDEN"])][-1] == "projects.env_var.updated"
    assert [e.type for e in outbox(stack, ids["DROP"])][-1] == "projects.env_var.deleted"
    new_id = next(v["id"] for v in body["env_vars"] if v["key"] == "NEW")
    assert [e.type for e in outbox(stack, new_id)] == ["projects.env_var.created"]
    assert call(stack, people.owner, "POST", env_path(app, "/HIDDEN:reveal"), {})[1]["value"] == "h2"
    # secret: every imported value sealed.
    status, body = call(
        stack,
        people.member,
        "POST",
        env_path(app, ":import"),
        {"dotenv": "KEEP=same\nPASSWORD=pw", "secret": True},
    )
    assert (
        status == 200
        and {v["value"] for v in body["env_vars"]} == {MASK}
        and body.get("deleted_keys", []) == []
    )
    assert raw_row(stack, app, "PASSWORD")["value"] != "pw"
    assert "KEEP" not in mirror(stack, app) and "PASSWORD" not in mirror(stack, app)


def test_a_bad_import_changes_nothing_and_names_the_line(stack, people, app, env_direct):
    call(stack, people.member, "POST", env_path(app), {"key": "EXISTING", "value": "1"})
    before = sql_value(stack, "SELECT count(*) FROM projects.outbox")
    text = "FIRST=1\nEXISTING=2\n# fine so far\nbad-key=3\n"
    status, body = call(
        stack, people.member, "POST", env_path(app, ":import"), {"dotenv": text, "replace": True}
    )
    assert status == 400 and violated_field(body) == "dotenv" and "line 4" in body["message"], body
    error = rpc_error(
        env_direct.ImportEnvVars,
        projects_pb2.ImportEnvVarsRequest(application_id=app["id"], dotenv='A=1\nB="unclosed\n'),
        people.member.metadata,
    )
    assert error.code() == INVALID and field_of(error) == "dotenv" and "line 2" in error.details()
    keys = [v["key"] for v in call(stack, people.member, "GET", env_path(app))[1]["env_vars"]]
    assert keys == ["EXISTING"]
    assert raw_row(stack, app, "EXISTING")["value"] == "1"
    assert sql_value(stack, "SELECT count(*) FROM projects.outbox") == before


def test_an_archived_application_refuses_env_var_writes(stack, people, app):
    call(stack, people.member, "POST", env_path(app), {"key": "SET", "value": "1"})
    assert call(stack, people.owner, "DELETE", f"/v1/applications/{app['id']}")[0] == 200
    for method, suffix, body in (
        ("POST", "", {"key": "OTHER", "value": "1"}),
        ("PATCH", "/SET", {"value": "2"}),
        ("DELETE", "/SET", None),
        ("POST", ":import", {"dotenv": "SET=3"}),
    ):
        status, answer = call(stack, people.member, method, env_path(app, suffix), body)
        assert status == 400 and "archived" in answer["message"], (method, suffix, answer)
    assert call(stack, people.member, "GET", env_path(app, "/SET"))[1]["value"] == "1"
