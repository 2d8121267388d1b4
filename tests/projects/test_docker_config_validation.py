"""An application's docker_config and source_config on the running platform: a bad key is refused
at create and at update (through REST without a mask and over gRPC with one), naming its exact
path, and nothing is written; numbers come back as the integers they were; the registry password is
sealed at rest and masked in every answer and event, and giving the mask back keeps it."""

import uuid

import asyncpg
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit.sealing import SECRET_MASK
from tests.support.calls import INVALID, field_of, rpc_error
from tests.support.resources import call, create, new_app, outbox, sql, sql_value, unique, violated_field


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    return create(stack, people.owner)


def stored(stack, application_id: str):
    return sql(
        stack,
        "projects",
        "SELECT docker_config::text AS docker_config, source_config::text AS source_config, registry_password"
        " FROM applications WHERE id = $1",
        uuid.UUID(application_id),
    )[0]


BAD_CREATES = [
    ({"type": "docker", "docker_config": {"image": "a", "imag": "b"}}, "docker_config.imag"),
    (
        {
            "type": "docker",
            "docker_config": {"image": "a", "ports": [{"target": 80}, {"target": 81, "mode": "x"}]},
        },
        "docker_config.ports[1].mode",
    ),
    (
        {"type": "docker", "docker_config": {"image": "a", "ports": [{"target": 80.5}]}},
        "docker_config.ports[0].target",
    ),
    ({"type": "docker", "docker_config": {"image": "a", "pull": "never"}}, "docker_config.pull"),
    (
        {"type": "docker", "docker_config": {"image": "a", "resources": {"cpus": 0}}},
        "docker_config.resources.cpus",
    ),
    (
        {"type": "docker", "docker_config": {"image": "a", "health_check": {}}},
        "docker_config.health_check.test",
    ),
    ({"type": "docker", "docker_config": {"ports": [{"target": 80}]}}, "docker_config.image"),
    (
        {"type": "docker", "docker_config": {"image": "a", "registry_auth": {"username": "u"}}},
        "docker_config.registry_auth.password",
    ),
    # Nothing stored to keep: the mask is not a password.
    (
        {
            "type": "docker",
            "docker_config": {"image": "a", "registry_auth": {"username": "u", "password": SECRET_MASK}},
        },
        "docker_config.registry_auth.password",
    ),
    ({"type": "git", "source_type": "github", "source_config": {"branch": "main"}}, "source_config.branch"),
    (
        {
            "type": "git",
            "source_type": "github",
            "source_config": {"repository_url": "ftp://example.com/r.git"},
        },
        "source_config.repository_url",
    ),
    (
        {"type": "git", "source_type": "github", "source_config": {"repository_url": "https://"}},
        "source_config.repository_url",
    ),
    (
        {"type": "git", "source_type": "github", "source_config": {"dockerfile": "../Dockerfile"}},
        "source_config.dockerfile",
    ),
    (
        {"type": "git", "source_type": "github", "source_config": {"dockerfile": ""}},
        "source_config.dockerfile",
    ),
    ({"type": "git", "source_type": "github", "source_config": {"context": "/srv"}}, "source_config.context"),
    (
        {"type": "git", "source_type": "github", "source_config": {"context": "a/../.."}},
        "source_config.context",
    ),
]


@pytest.mark.parametrize(("application", "field"), BAD_CREATES)
def test_a_bad_key_at_create_is_named_and_nothing_is_created(stack, people, project, application, field):
    before = sql_value(stack, "SELECT count(*) FROM applications")
    body = {"name": unique("bad"), **application}
    status, answer = call(stack, people.owner, "POST", f"/v1/projects/{project['id']}/applications", body)
    assert status == 400, answer
    assert violated_field(answer) == field
    assert sql_value(stack, "SELECT count(*) FROM applications") == before


def test_good_configs_are_stored_with_their_integers(stack, people, project):
    docker_config = {
        "image": "nginx:1.27",
        "command": ["nginx", "-g", "daemon off;"],
        "ports": [{"target": 80, "published": 18080, "mode": "host"}],
        "health_check": {"test": "wget -q -O- localhost", "interval_s": 2, "retries": 3},
        "resources": {"cpus": 0.5, "memory_mb": 256},
        "pull": "always",
    }
    app = new_app(stack, people.owner, project["id"], docker_config=docker_config)
    assert app["docker_config"] == docker_config
    assert '"target": 80,' in stored(stack, app["id"])["docker_config"]  # not 80.0
    git = new_app(
        stack,
        people.owner,
        project["id"],
        type="git",
        source_type="gitea",
        source_config={
            "repository_url": "file:///srv/git/api.git",
            "dockerfile": "deploy/Dockerfile",
            "context": ".",
        },
    )
    assert git["source_config"]["dockerfile"] == "deploy/Dockerfile"
    for url in ("https://example.com/a/b.git", "ssh://git@example.com/a/b.git", "git://example.com/a/b"):
        new_app(
            stack,
            people.owner,
            project["id"],
            type="git",
            source_type="github",
            source_config={"repository_url": url},
        )
    # An application still being described: no docker_config yet.
    assert new_app(stack, people.owner, project["id"]).get("docker_config", {}) == {}


def test_a_bad_key_at_update_is_named_and_nothing_changes(stack, people, project, projects_channel):
    app = new_app(stack, people.owner, project["id"], docker_config={"image": "a"})
    before = stored(stack, app["id"])
    path = f"/v1/applications/{app['id']}"
    bad = {"image": "a", "ports": [{"target": 80, "protocol": "sctp"}]}
    status, answer = call(stack, people.owner, "PATCH", path, {"docker_config": bad})
    assert status == 400 and violated_field(answer) == "docker_config.ports[0].protocol", answer
    status, answer = call(stack, people.owner, "PATCH", path, {"docker_config": {"pull": "always"}})
    assert status == 400 and violated_field(answer) == "docker_config.image", answer
    # A new type has the configs it keeps checked against it.
    status, answer = call(
        stack,
        people.owner,
        "PATCH",
        path,
        {"type": "git", "source_type": "github", "source_config": {"registry": "x"}},
    )
    assert status == 400 and violated_field(answer) == "source_config.registry", answer

    # Over gRPC with a field mask: the same path.
    config = struct_pb2.Struct()
    config.update({"image": "a", "resources": {"memory_mb": 0}})
    error = rpc_error(
        projects_pb2_grpc.ApplicationServiceStub(projects_channel).UpdateApplication,
        projects_pb2.UpdateApplicationRequest(
            application=projects_pb2.Application(id=app["id"], docker_config=config),
            update_mask=field_mask_pb2.FieldMask(paths=["docker_config"]),
        ),
        people.owner.metadata,
    )
    assert error.code() == INVALID and field_of(error) == "docker_config.resources.memory_mb"
    assert stored(stack, app["id"]) == before


def test_the_registry_password_is_sealed_at_rest_and_masked_everywhere(stack, people, project):
    password = f"registry-{uuid.uuid4().hex}"
    auth = {"username": "ci", "password": password, "server_address": "registry.example.com"}
    app = new_app(
        stack,
        people.owner,
        project["id"],
        docker_config={"image": "registry.example.com/a", "registry_auth": auth},
    )
    masked_auth = {**auth, "password": SECRET_MASK}
    assert app["docker_config"]["registry_auth"] == masked_auth
    row = stored(stack, app["id"])
    assert password not in row["docker_config"] and SECRET_MASK in row["docker_config"]
    first_seal = row["registry_password"]
    assert first_seal and password not in first_seal

    status, fetched = call(stack, people.owner, "GET", f"/v1/applications/{app['id']}")
    assert status == 200 and fetched["docker_config"]["registry_auth"] == masked_auth
    status, listed = call(stack, people.owner, "GET", f"/v1/projects/{project['id']}/applications")
    [in_list] = [a for a in listed["applications"] if a["id"] == app["id"]]
    assert in_list["docker_config"]["registry_auth"] == masked_auth

    # The mask given back keeps the stored password; a new one is sealed anew; none clears it.
    path = f"/v1/applications/{app['id']}"
    kept = {"image": "registry.example.com/b", "registry_auth": masked_auth}
    status, body = call(stack, people.owner, "PATCH", path, {"docker_config": kept})
    assert status == 200 and body["docker_config"] == kept, body
    assert stored(stack, app["id"])["registry_password"] == first_seal
    changed = {"image": "registry.example.com/b", "registry_auth": {**auth, "password": password + "-2"}}
    status, body = call(stack, people.owner, "PATCH", path, {"docker_config": changed})
    assert status == 200 and body["docker_config"]["registry_auth"] == masked_auth
    assert stored(stack, app["id"])["registry_password"] not in (None, first_seal)
    status, body = call(stack, people.owner, "PATCH", path, {"docker_config": {"image": "a"}})
    assert status == 200 and stored(stack, app["id"])["registry_password"] is None

    events = outbox(stack, app["id"])
    assert [e.type for e in events] == ["projects.application.created"] + ["projects.application.updated"] * 3
    for event in events:
        assert password.encode() not in event.SerializeToString()


def test_the_schema_refuses_a_plaintext_password_in_the_json(stack, project):
    with pytest.raises(asyncpg.CheckViolationError):
        sql(
            stack,
            "projects",
            "INSERT INTO applications (project_id, name, type, source_type, docker_config)"
            " VALUES ($1, $2, 'docker', 'docker', $3::jsonb)",
            uuid.UUID(project["id"]),
            unique("raw"),
            '{"image": "a", "registry_auth": {"username": "u", "password": "plain"}}',
        )
