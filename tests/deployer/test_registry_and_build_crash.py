"""Git applications on the running platform with a registry and a crash: with DOCKYARD_REGISTRY set,
a built image is pushed to the registry (Debian's docker-registry on a port of the module's own) and
the Swarm service runs the pushed reference by digest, and an image beyond the kept ones leaves the
engine under both its tags (and a rollback to it is refused); a deployer killed (-9) during a build has its
deployment taken over once its lease runs out, ended failed naming the phase, with neither the
deployment's image nor a build container left behind."""

import json
import pathlib
import subprocess
import time
import urllib.request
import uuid

import pytest

from dockyard_kit.stack.components import free_port
from services.deployer.docker.swarm import LABEL_APPLICATION
from services.deployer.domain.worker import built_tag
from tests.deployer.support import (
    build_containers,
    deployment_by_a_replica,
    git_app,
    git_repository,
    image_tags,
    log_messages,
    push_commit,
    stored_logs,
    web_dockerfile,
    web_repository,
)
from tests.support.deployments import deploy, fetch, wait_final, web_config
from tests.support.resources import call, new_app, sql
from tests.support.waiting import eventually

LEASE_SECONDS = 3
# The crash test's build lasts at least this long: the replica is killed in the middle of it.
BUILD_SECONDS = 20
REGISTRY_BINARY = pathlib.Path("/usr/bin/docker-registry")
TIMEOUT = 120
# Unused here (no webhook is sent) but a git source needs one.
WEBHOOK_SECRET = "registry-test-secret"

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """host:port of a registry of the module's own (plain HTTP: the engine trusts loopback ones)."""
    if not REGISTRY_BINARY.is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing (install Debian's docker-registry)")
    directory = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = directory / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=directory / "storage", port=port))
    output = (directory / "output.log").open("w")
    process = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(config)], stdout=output, stderr=output)
    address = f"127.0.0.1:{port}"
    try:
        eventually(lambda: process.poll() is None and registry_answers(address), timeout=15, interval=0.2)
        yield address
    finally:
        process.terminate()
        process.wait(10)
        output.close()


def registry_answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> pathlib.Path:
    """Where the module's deployers (the stack's and the replica) check git sources out."""
    return tmp_path_factory.mktemp("builds")


@pytest.fixture(scope="module")
def stack_env(registry, build_dir):
    return {
        "DOCKYARD_REGISTRY": registry,
        "DOCKYARD_BUILD_DIR": str(build_dir),
        "DOCKYARD_KEEP_IMAGES": "1",
        "DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1",
        "DOCKYARD_DEPLOY_LEASE_SECONDS": str(LEASE_SECONDS),
    }


def catalog(address: str) -> list[str]:
    with urllib.request.urlopen(f"http://{address}/v2/_catalog", timeout=5) as response:
        return json.load(response)["repositories"]


def test_a_built_image_is_pushed_and_the_service_runs_it_from_the_registry(
    stack, people, project, busybox_image, docker_client, registry, built_for, tmp_path
):
    url, _, _ = web_repository(tmp_path, busybox_image, "from-registry")
    app, _, port = git_app(stack, people.owner, project["id"], url, secret=WEBHOOK_SECRET)
    built_for.append(app["id"])
    ended = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"], timeout=TIMEOUT)
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    repository = f"dockyard-app-{app['id']}"
    digest = ended["metadata"]["image_digest"]
    assert digest.startswith(f"{registry}/{repository}@sha256:"), ended["metadata"]
    assert f"pushing to {registry}" in ended["logs"]
    assert repository in catalog(registry)
    # The registry serves that very manifest.
    manifest = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{digest.split('@')[1]}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(manifest, timeout=5) as response:
        assert response.status == 200
    [service] = docker_client.services.list(filters={"label": f"{LABEL_APPLICATION}={app['id']}"})
    assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == digest
    assert fetch(port) == "from-registry"


def deployment_images(docker_client, deployment_id: str) -> list[str]:
    """Tags on the engine of images built for a deployment (locally and as pushed)."""
    return [name for name in image_tags(docker_client) if name.endswith(f":{deployment_id}")]


def test_a_pushed_image_beyond_the_kept_ones_leaves_the_engine(
    stack, people, project, busybox_image, docker_client, registry, built_for, tmp_path
):
    """DOCKYARD_KEEP_IMAGES=1: once a second deployment succeeds, the first one's image goes from
    the engine, under its local tag and its registry tag (the registry keeps it)."""
    marker = uuid.uuid4().hex
    url, _ = git_repository(tmp_path, {"Dockerfile": web_dockerfile(busybox_image, "p1", marker)})
    app, _, port = git_app(stack, people.owner, project["id"], url, secret=WEBHOOK_SECRET)
    built_for.append(app["id"])
    first = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"], timeout=TIMEOUT)
    assert first["status"] == "success", (first["metadata"], first["logs"])
    assert sorted(deployment_images(docker_client, first["id"])) == sorted(
        [built_tag(app["id"], first["id"]), f"{registry}/{built_tag(app['id'], first['id'])}"]
    )
    push_commit(tmp_path, {"Dockerfile": web_dockerfile(busybox_image, "p2", marker)})
    second = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"], timeout=TIMEOUT)
    assert second["status"] == "success", (second["metadata"], second["logs"])
    assert fetch(port) == "p2"
    assert deployment_images(docker_client, second["id"])
    # The worker prunes right after it records the success.
    eventually(lambda: deployment_images(docker_client, first["id"]) == [], timeout=10, interval=0.5)
    eventually(
        lambda: call(stack, people.owner, "GET", f"/v1/deployments/{first['id']}")[1]["metadata"].get(
            "image_pruned"
        ),
        timeout=10,
    )
    for body in ({}, {"deployment_id": first["id"]}):
        status, refused = call(stack, people.owner, "POST", f"/v1/applications/{app['id']}:rollback", body)
        assert status == 400 and "no longer kept" in refused["message"], refused


def deployment_row(stack, deployment_id: str):
    [row] = sql(
        stack,
        "deployer",
        "SELECT status, attempts, lease_owner FROM deployments WHERE id = $1",
        uuid.UUID(deployment_id),
    )
    return row


def test_a_deployer_killed_during_a_build_fails_it_naming_the_phase_and_leaves_nothing(
    stack, people, project, busybox_image, docker_client, registry, built_for, build_dir, tmp_path
):
    """As test_faults' rollout crash: the replica killed is a second deployer, the stack's own one
    paused (SIGSTOP) while the replica claims the deployment and resumed once it is killed."""
    url, _, marker = web_repository(tmp_path, busybox_image, "never", build_seconds=BUILD_SECONDS)
    app, _, _ = git_app(stack, people.owner, project["id"], url, secret=WEBHOOK_SECRET)
    built_for.append(app["id"])
    settings = {
        "DOCKYARD_DEPLOY_LEASE_SECONDS": str(LEASE_SECONDS),
        "DOCKYARD_REGISTRY": registry,
        "DOCKYARD_BUILD_DIR": str(build_dir),
    }
    with deployment_by_a_replica(stack, people.owner, app["id"], **settings) as (replica, deployment):
        # The RUN step is under way: its container printed the marker.
        eventually(
            lambda: any(f"building {marker}" in line for line in log_messages(stack, deployment.id)),
            timeout=60,
            interval=0.2,
        )
        row = deployment_row(stack, deployment.id)
        assert row["status"] == "building" and f":{replica.process.pid}:" in row["lease_owner"], row
        assert build_containers(docker_client, marker), "the build runs in no container"
        assert (build_dir / deployment.id).is_dir(), "the source is checked out elsewhere"
        replica.kill()
    killed_at = time.monotonic()
    ended = wait_final(stack, people.owner, deployment.id, timeout=LEASE_SECONDS + 30)
    assert time.monotonic() - killed_at < LEASE_SECONDS + 30
    assert ended["status"] == "failed", (ended["metadata"], ended["logs"])
    assert ended["metadata"]["reason"].startswith("interrupted during building"), ended["metadata"]
    assert ended["metadata"]["phase"] == "building"
    assert "taken over by" in ended["logs"] and "during building" in ended["logs"], ended["logs"]
    row = deployment_row(stack, deployment.id)
    assert row["attempts"] == 2 and row["lease_owner"] is None, row
    # Nothing left: the engine stops a build whose client went away and removes its container
    # (forcerm); no image carries the deployment's tag, here or as pushed.
    eventually(lambda: not build_containers(docker_client, marker), timeout=10, interval=0.5)
    tag = built_tag(app["id"], deployment.id)
    tags = image_tags(docker_client)
    assert tag not in tags and f"{registry}/{tag}" not in tags, tags
    assert f"dockyard-app-{app['id']}" not in catalog(registry)
    # The killed worker's checkout is removed by the one that took over (the same build directory).
    assert not (build_dir / deployment.id).exists()


def test_an_image_only_in_a_registry_is_pulled_and_pull_always_pulls_it_again(
    stack, people, project, busybox_image, docker_client, registry
):
    """`pull: missing` pulls an image the engine lacks; `always` pulls one it has."""
    reference = f"{registry}/dockyard-test/pulled:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(busybox_image).tag(reference)
    for _ in docker_client.api.push(reference, stream=True, decode=True):
        pass
    docker_client.images.remove(reference)  # the tag only: the engine no longer has this reference
    port = free_port()
    app = new_app(stack, people.owner, project["id"], docker_config=web_config(reference, port, "pulled"))
    first = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    assert first["status"] == "success", (first["metadata"], first["logs"])
    messages = [line["message"] for line in stored_logs(stack, people.owner, first["id"])]
    assert f"pulling {reference}" in messages, messages
    assert fetch(port) == "pulled"
    # Now the engine has it: `missing` uses it as it is, `always` asks the registry again.
    update = {"docker_config": web_config(reference, port, "pulled", pull="always")}
    status, body = call(stack, people.owner, "PATCH", f"/v1/applications/{app['id']}", update)
    assert status == 200, body
    again = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    assert again["status"] == "success", (again["metadata"], again["logs"])
    messages = [line["message"] for line in stored_logs(stack, people.owner, again["id"])]
    assert f"pulling {reference}" in messages and not any("using the local image" in m for m in messages)
