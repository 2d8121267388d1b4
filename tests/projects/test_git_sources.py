"""GitSourceService on the running platform: one per git application, fields checked, the webhook
secret generated when not given, shown once, sealed at rest, and masked in every other response
and in events."""

import base64
import uuid

import pytest
from google.protobuf import field_mask_pb2

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import INVALID, NOT_FOUND, field_of, payload, rpc_error
from tests.support.resources import call, create, new_app, outbox, sql_value, violated_field

MASK = "********"


@pytest.fixture(scope="module")
def git_gateway(gateway_channel):
    return projects_pb2_grpc.GitSourceServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def git_direct(projects_channel):
    return projects_pb2_grpc.GitSourceServiceStub(projects_channel)


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    return create(stack, people.owner, team_id=people.crew.id)


@pytest.fixture
def app(stack, people, project) -> dict:
    return new_app(stack, people.owner, project["id"], type="git", source_type="github")


def source_path(app: dict) -> str:
    return f"/v1/applications/{app['id']}/git-source"


def stored_secret(stack, app: dict) -> str:
    return sql_value(
        stack, "SELECT webhook_secret FROM git_sources WHERE application_id = $1", uuid.UUID(app["id"])
    )


def test_create_generates_a_secret_shown_once_and_sealed(stack, people, app):
    status, created = call(
        stack,
        people.member,
        "POST",
        source_path(app),
        {"provider": "github", "repository": "acme/api-service"},
    )
    assert status == 200, created
    assert (created["provider"], created["repository"], created["branch"]) == (
        "github",
        "acme/api-service",
        "main",
    )
    secret = created["webhook_secret"]
    assert secret != MASK and len(secret) >= 40  # secrets.token_urlsafe(32)
    stored = stored_secret(stack, app)
    assert secret not in stored and secret.encode() not in base64.b64decode(stored)
    status, fetched = call(stack, people.member, "GET", source_path(app))
    assert status == 200 and fetched["webhook_secret"] == MASK
    assert {k: v for k, v in fetched.items() if k != "webhook_secret"} == {
        k: v for k, v in created.items() if k != "webhook_secret"
    }
    [event] = outbox(stack, created["id"])
    changed = payload(event, events_pb2.GitSourceChanged)
    assert event.type == "projects.git_source.created" and changed.project_id == app["project_id"]
    assert changed.git_source.webhook_secret == MASK and secret.encode() not in event.SerializeToString()


def test_a_chosen_secret_is_returned_once_and_sealed(stack, people, app):
    chosen = "a-secret-the-client-chose-" + uuid.uuid4().hex
    status, created = call(
        stack,
        people.member,
        "POST",
        source_path(app),
        {"provider": "gitea", "repository": "org/team/repo", "branch": "release", "webhook_secret": chosen},
    )
    assert status == 200 and created["webhook_secret"] == chosen and created["branch"] == "release"
    assert chosen.encode() not in base64.b64decode(stored_secret(stack, app))
    assert call(stack, people.member, "GET", source_path(app))[1]["webhook_secret"] == MASK


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"provider": "svn", "repository": "a/b"}, "provider"),
        ({"provider": "", "repository": "a/b"}, "provider"),
        ({"provider": "github", "repository": "no-slash"}, "repository"),
        ({"provider": "github", "repository": "a/b c"}, "repository"),
        ({"provider": "github", "repository": "a/" + "b" * 500}, "repository"),
        ({"provider": "github", "repository": "a/b", "branch": "x" * 256}, "branch"),
        ({"provider": "github", "repository": "a/b", "commit_sha": "xyz"}, "commit_sha"),
        (
            {
                "provider": "github",
                "repository": "a/b",
                "commit_sha": "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
            },
            "commit_sha",
        ),
        ({"provider": "github", "repository": "a/b", "webhook_secret": "short"}, "webhook_secret"),
        ({"provider": "github", "repository": "a/b", "webhook_config": {"secret": "x"}}, "webhook_config"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, app, source, field):
    status, body = call(stack, people.member, "POST", source_path(app), source)
    assert status == 400, body
    assert violated_field(body) == field
    assert (
        sql_value(stack, "SELECT count(*) FROM git_sources WHERE application_id = $1", uuid.UUID(app["id"]))
        == 0
    )


def test_one_per_application_and_only_for_git_applications(stack, people, app, project):
    assert (
        call(stack, people.member, "POST", source_path(app), {"provider": "github", "repository": "a/b"})[0]
        == 200
    )
    status, body = call(
        stack, people.member, "POST", source_path(app), {"provider": "github", "repository": "a/c"}
    )
    assert status == 409 and violated_field(body) == "application_id"
    docker = new_app(stack, people.owner, project["id"])
    status, body = call(
        stack, people.member, "POST", source_path(docker), {"provider": "github", "repository": "a/b"}
    )
    assert status == 400 and "git applications" in body["message"]
    assert call(stack, people.member, "GET", source_path(docker))[0] == 404


def test_update_delete_and_events_over_grpc(git_gateway, git_direct, stack, people, project):
    for stub in (git_gateway, git_direct):
        app = new_app(stack, people.owner, project["id"], type="git", source_type="gitlab")
        created = stub.CreateGitSource(
            projects_pb2.CreateGitSourceRequest(
                application_id=app["id"],
                git_source=projects_pb2.GitSource(provider="gitlab", repository="g/r"),
            ),
            metadata=people.member.metadata,
        )
        old_stored = stored_secret(stack, app)
        sha = "0123456789abcdef0123456789abcdef01234567"
        updated = stub.UpdateGitSource(
            projects_pb2.UpdateGitSourceRequest(
                application_id=app["id"],
                git_source=projects_pb2.GitSource(
                    commit_sha=sha, branch="ignored", webhook_secret="a-brand-new-webhook-secret"
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["commit_sha", "webhook_secret"]),
            ),
            metadata=people.member.metadata,
        )
        assert updated.commit_sha == sha and updated.branch == "main" and updated.webhook_secret == MASK
        assert stored_secret(stack, app) != old_stored
        error = rpc_error(
            stub.UpdateGitSource,
            projects_pb2.UpdateGitSourceRequest(
                application_id=app["id"],
                git_source=projects_pb2.GitSource(repository="bad"),
                update_mask=field_mask_pb2.FieldMask(paths=["repository"]),
            ),
            people.member.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "repository"
        error = rpc_error(
            stub.UpdateGitSource,
            projects_pb2.UpdateGitSourceRequest(
                application_id=app["id"], update_mask=field_mask_pb2.FieldMask(paths=["application_id"])
            ),
            people.member.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "update_mask"
        request = projects_pb2.GetGitSourceRequest(application_id=app["id"])
        assert rpc_error(stub.GetGitSource, request, people.unrelated.metadata).code() == NOT_FOUND
        stub.DeleteGitSource(
            projects_pb2.DeleteGitSourceRequest(application_id=app["id"]), metadata=people.member.metadata
        )
        assert rpc_error(stub.GetGitSource, request, people.member.metadata).code() == NOT_FOUND
        error = rpc_error(
            stub.DeleteGitSource,
            projects_pb2.DeleteGitSourceRequest(application_id=app["id"]),
            people.member.metadata,
        )
        assert error.code() == NOT_FOUND
        events = outbox(stack, created.id)
        assert [e.type for e in events] == [
            "projects.git_source.created",
            "projects.git_source.updated",
            "projects.git_source.deleted",
        ]
        for event in events:
            assert payload(event, events_pb2.GitSourceChanged).git_source.webhook_secret == MASK


def test_an_archived_application_refuses_git_source_writes(stack, people, app):
    assert (
        call(stack, people.member, "POST", source_path(app), {"provider": "github", "repository": "a/b"})[0]
        == 200
    )
    assert call(stack, people.owner, "DELETE", f"/v1/applications/{app['id']}")[0] == 200
    for method, body in (
        ("PATCH", {"branch": "dev"}),
        ("DELETE", None),
        ("POST", {"provider": "github", "repository": "a/b"}),
    ):
        status, answer = call(stack, people.member, method, source_path(app), body)
        assert status == 400 and "archived" in answer["message"], (method, answer)
    status, fetched = call(stack, people.member, "GET", source_path(app))
    assert status == 200 and fetched["branch"] == "main"
