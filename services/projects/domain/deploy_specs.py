"""What the deployer asks of projects (DeploySpecService, an internal service: the kit's
interceptor answers only a service credential). The answers hold secrets in plaintext (env vars,
the registry password, a webhook secret), opened here in memory and never logged.

The deploy spec is one snapshot: a single REPEATABLE READ, read-only transaction reads the
application, its env vars, volumes and git source, so a change committed meanwhile is either all
in it or not at all."""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg

from dockyard.projects.v1 import deploy_specs_pb2
from dockyard_kit.errors import FailedPrecondition, NotFound
from dockyard_kit.protoconv import struct_from_json
from dockyard_kit.sealing import Sealer
from services.projects.domain import application_config
from services.projects.domain.application_status import ARCHIVED
from services.projects.domain.applications import REGISTRY_PASSWORD_SEALED_AT
from services.projects.domain.applications import not_found as application_not_found
from services.projects.store import deploy_specs as store
from services.projects.store.session import as_platform

# Where `git clone` finds a git source's repository (owner/name) when source_config names no URL.
# Gitea is mostly self-hosted: such applications name their repository_url.
PROVIDER_CLONE_URLS = {
    "github": "https://github.com/{repository}.git",
    "gitlab": "https://gitlab.com/{repository}.git",
    "bitbucket": "https://bitbucket.org/{repository}.git",
    "gitea": "https://gitea.com/{repository}.git",
}


@contextlib.asynccontextmanager
async def _snapshot(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await as_platform(conn)  # the service's own read, across every project
        yield conn


def _env(sealer: Sealer, rows) -> dict[str, str]:
    return {
        row["key"]: sealer.unseal("env_vars", "value", row["id"], row["value"])
        if row["is_secret"]
        else row["value"]
        for row in rows
    }


def _docker_config(sealer: Sealer, application) -> dict:
    """The stored docker_config with its registry password opened in place of the mask."""
    config = json.loads(application["docker_config"])
    sealed = application["registry_password"]
    if sealed is None:
        return config
    password = sealer.unseal(*REGISTRY_PASSWORD_SEALED_AT, application["id"], sealed)
    return application_config.with_password(config, password)


def _git_checkout(application, source) -> deploy_specs_pb2.GitCheckout:
    if source is None:
        raise FailedPrecondition(f"git application {application['id']} has no git source; create one first")
    source_config = json.loads(application["source_config"])
    dockerfile, context = application_config.git_build(source_config)
    clone_url = source_config.get("repository_url") or PROVIDER_CLONE_URLS[source["provider"]].format(
        repository=source["repository"]
    )
    return deploy_specs_pb2.GitCheckout(
        git_source_id=str(source["id"]),
        clone_url=clone_url,
        branch=source["branch"],
        dockerfile=dockerfile,
        context=context,
    )


async def get_deploy_spec(
    pool: asyncpg.Pool, sealer: Sealer, application_id: uuid.UUID
) -> deploy_specs_pb2.DeploySpec:
    """NOT_FOUND for an application that does not exist (or was purged); FAILED_PRECONDITION for one
    that cannot be deployed as it stands (a docker one without an image, a git one without a source)."""
    async with _snapshot(pool) as conn:
        application = await store.application(conn, application_id)
        if application is None:
            raise application_not_found(application_id)
        env_rows = await store.env_vars(conn, application_id)
        volumes = await store.volumes(conn, application_id)
        source = await store.git_source(conn, application_id) if application["type"] == "git" else None
    docker_config = _docker_config(sealer, application)
    if application["type"] == "docker" and not docker_config.get("image"):
        raise FailedPrecondition(
            f"docker application {application_id} names no image; set docker_config.image first"
        )
    spec = deploy_specs_pb2.DeploySpec(
        application_id=str(application["id"]),
        project_id=str(application["project_id"]),
        application_name=application["name"],
        type=application["type"],
        status=application["status"],
        replicas=application["replicas"],
        docker_config=struct_from_json(json.dumps(docker_config)),
        env=_env(sealer, env_rows),
        volumes=[
            deploy_specs_pb2.VolumeMount(docker_name=row["docker_name"], mount_path=row["mount_path"])
            for row in volumes
        ],
        # An application's service may run twice during an update; only a database's may not.
        stateful=False,
    )
    if application["type"] == "git":
        spec.git.CopyFrom(_git_checkout(application, source))
    return spec


async def get_webhook_target(
    pool: asyncpg.Pool, sealer: Sealer, git_source_id: uuid.UUID
) -> deploy_specs_pb2.WebhookTarget:
    async with _snapshot(pool) as conn:
        row = await store.webhook_target(conn, git_source_id)
    if row is None:
        raise NotFound(f"git source {git_source_id} not found")
    return deploy_specs_pb2.WebhookTarget(
        git_source_id=str(row["id"]),
        application_id=str(row["application_id"]),
        project_id=str(row["project_id"]),
        provider=row["provider"],
        branch=row["branch"],
        webhook_secret=sealer.unseal("git_sources", "webhook_secret", row["id"], row["webhook_secret"]),
        active=row["application_status"] != ARCHIVED,
    )
