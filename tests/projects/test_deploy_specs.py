"""DeploySpecService on the running platform, straight to projects' port: a user's token (even a
super_admin's) is PERMISSION_DENIED and no credential UNAUTHENTICATED; the deployer's service
credential gets the deploy snapshot with every secret in plaintext (env vars, the registry
password), its volumes and, for a git application, what to clone and build; a webhook's target with
its secret, inactive once the application is archived; NOT_FOUND for what does not exist."""

import uuid

import grpc
import pytest
from google.protobuf import json_format

from dockyard.projects.v1 import deploy_specs_pb2, deploy_specs_pb2_grpc
from dockyard_kit.auth import MISSING_CREDENTIAL, USER_NOT_ALLOWED
from dockyard_kit.config import Settings
from dockyard_kit.service_auth import ServiceCredentials
from tests.support.calls import TIMEOUT
from tests.support.resources import call, create, new_app, unique


@pytest.fixture(scope="module")
def deployer(stack) -> ServiceCredentials:
    """The deployer's credentials, from the secrets file the stack's bootstrap step wrote for it."""
    settings = Settings(DOCKYARD_SERVICE_SECRET_FILE=stack.data_dir / "service-secrets" / "deployer.secret")
    return ServiceCredentials.from_settings(settings, "deployer")


@pytest.fixture(scope="module")
def specs(projects_channel):
    return deploy_specs_pb2_grpc.DeploySpecServiceStub(projects_channel)


@pytest.fixture(scope="module")
def project(stack, people) -> dict:
    return create(stack, people.owner)


def spec_of(specs, deployer, application_id: str) -> deploy_specs_pb2.DeploySpec:
    return specs.GetDeploySpec(
        deploy_specs_pb2.GetDeploySpecRequest(application_id=application_id),
        metadata=deployer.metadata("projects"),
        timeout=TIMEOUT,
    )


def refusal(method, request, metadata=()) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        method(request, metadata=metadata, timeout=TIMEOUT)
    return refused.value


def ok(answer: tuple[int, dict]) -> dict:
    status, body = answer
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def image_app(stack, people, project) -> dict:
    """A docker application with a registry password, a secret and a plain env var, and a volume."""
    app = new_app(
        stack,
        people.owner,
        project["id"],
        docker_config={
            "image": "registry.example.com/web:1",
            "ports": [{"target": 8080, "published": 18080}],
            "registry_auth": {"username": "ci", "password": "registry-password-1"},
        },
        replicas=2,
    )
    env_path = f"/v1/applications/{app['id']}/env-vars"
    ok(call(stack, people.owner, "POST", env_path, {"key": "PORT", "value": "8080"}))
    ok(
        call(
            stack,
            people.owner,
            "POST",
            env_path,
            {"key": "API_KEY", "value": "s3cret-value", "is_secret": True},
        )
    )
    volume = ok(
        call(
            stack,
            people.owner,
            "POST",
            f"/v1/projects/{project['id']}/volumes",
            {"name": unique("vol"), "mount_path": "/data", "size_gb": 1, "application_id": app["id"]},
        )
    )
    return {**app, "volume": volume}


def test_a_users_token_is_refused_and_so_is_no_credential(specs, people, image_app):
    request = deploy_specs_pb2.GetDeploySpecRequest(application_id=image_app["id"])
    for account in (people.owner, people.super_admin):
        error = refusal(specs.GetDeploySpec, request, account.metadata)
        assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED, USER_NOT_ALLOWED)
    error = refusal(specs.GetDeploySpec, request)
    assert (error.code(), error.details()) == (grpc.StatusCode.UNAUTHENTICATED, MISSING_CREDENTIAL)
    target = deploy_specs_pb2.GetWebhookTargetRequest(git_source_id=str(uuid.uuid4()))
    assert (
        refusal(specs.GetWebhookTarget, target, people.owner.metadata).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )


def test_the_deployer_gets_the_snapshot_with_secrets_in_plaintext(specs, deployer, project, image_app):
    spec = spec_of(specs, deployer, image_app["id"])
    assert (spec.application_id, spec.project_id, spec.application_name) == (
        image_app["id"],
        project["id"],
        image_app["name"],
    )
    assert (spec.type, spec.status, spec.replicas, spec.stateful) == ("docker", "stopped", 2, False)
    assert dict(spec.env) == {"PORT": "8080", "API_KEY": "s3cret-value"}
    assert json_format.MessageToDict(spec.docker_config) == {
        "image": "registry.example.com/web:1",
        "ports": [{"target": 8080, "published": 18080}],
        "registry_auth": {"username": "ci", "password": "registry-password-1"},
    }
    assert [(v.docker_name, v.mount_path) for v in spec.volumes] == [
        (image_app["volume"]["docker_name"], "/data")
    ]
    assert not spec.HasField("git")


def test_unknown_purged_and_undeployable_applications(stack, specs, deployer, people, project):
    def code(application_id: str) -> grpc.StatusCode:
        return refusal(
            specs.GetDeploySpec,
            deploy_specs_pb2.GetDeploySpecRequest(application_id=application_id),
            deployer.metadata("projects"),
        ).code()

    assert code(str(uuid.uuid4())) == grpc.StatusCode.NOT_FOUND
    assert code("not-a-uuid") == grpc.StatusCode.INVALID_ARGUMENT
    gone = new_app(stack, people.owner, project["id"], docker_config={"image": "a"})
    ok(call(stack, people.owner, "DELETE", f"/v1/applications/{gone['id']}"))
    assert spec_of(specs, deployer, gone["id"]).status == "archived"
    ok(call(stack, people.owner, "POST", f"/v1/applications/{gone['id']}:purge"))
    assert code(gone["id"]) == grpc.StatusCode.NOT_FOUND
    # Still being described: nothing to deploy yet.
    assert code(new_app(stack, people.owner, project["id"])["id"]) == grpc.StatusCode.FAILED_PRECONDITION
    bare_git = new_app(stack, people.owner, project["id"], type="git", source_type="github")
    assert code(bare_git["id"]) == grpc.StatusCode.FAILED_PRECONDITION


def git_app(stack, people, project, source_config: dict) -> tuple[dict, dict]:
    app = new_app(
        stack, people.owner, project["id"], type="git", source_type="github", source_config=source_config
    )
    source = ok(
        call(
            stack,
            people.owner,
            "POST",
            f"/v1/applications/{app['id']}/git-source",
            {"provider": "github", "repository": "acme/api", "branch": "release"},
        )
    )
    return app, source


def test_a_git_application_names_what_to_clone_and_build(stack, specs, deployer, people, project):
    app, source = git_app(
        stack, people, project, {"dockerfile": "deploy/Dockerfile", "context": "services/api"}
    )
    git = spec_of(specs, deployer, app["id"]).git
    assert (git.git_source_id, git.clone_url, git.branch, git.dockerfile, git.context) == (
        source["id"],
        "https://github.com/acme/api.git",
        "release",
        "deploy/Dockerfile",
        "services/api",
    )
    local, _ = git_app(stack, people, project, {"repository_url": "file:///srv/git/api.git"})
    git = spec_of(specs, deployer, local["id"]).git
    assert (git.clone_url, git.dockerfile, git.context) == ("file:///srv/git/api.git", "Dockerfile", ".")


def test_a_webhook_target_holds_the_secret_and_goes_inactive_with_its_application(
    stack, specs, deployer, people, project
):
    app, source = git_app(stack, people, project, {})

    def target() -> deploy_specs_pb2.WebhookTarget:
        return specs.GetWebhookTarget(
            deploy_specs_pb2.GetWebhookTargetRequest(git_source_id=source["id"]),
            metadata=deployer.metadata("projects"),
            timeout=TIMEOUT,
        )

    answer = target()
    assert (answer.application_id, answer.project_id, answer.provider, answer.branch) == (
        app["id"],
        project["id"],
        "github",
        "release",
    )
    assert answer.webhook_secret == source["webhook_secret"] and len(answer.webhook_secret) >= 16
    assert answer.active
    ok(call(stack, people.owner, "DELETE", f"/v1/applications/{app['id']}"))
    assert not target().active
    error = refusal(
        specs.GetWebhookTarget,
        deploy_specs_pb2.GetWebhookTargetRequest(git_source_id=str(uuid.uuid4())),
        deployer.metadata("projects"),
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
