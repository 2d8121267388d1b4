"""The deployer's Docker adapter against the real engine (a single-node swarm manager): services
deploy, answer on a host-published port, update, roll back on a failing health check and scale; builds
stream and cancel; images are found or refused; git checks out a local repository."""

import asyncio
import dataclasses
import pathlib
import secrets
import subprocess
import threading
import time
import urllib.request

import pytest

from dockyard_kit.docker_config import HealthCheck, Port, Resources
from dockyard_kit.errors import FailedPrecondition
from dockyard_kit.stack.components import free_port
from services.deployer.docker import (
    LABEL_MANAGED,
    LABEL_PROJECT,
    BuildFailed,
    ServiceRequest,
    Swarm,
    checkout,
    network_name,
    service_name,
)
from services.deployer.docker.swarm import manager_problem, repository_and_tag, service_spec, update_order
from services.deployer.engine import DockerEngine
from tests.docker_support import BUSYBOX_IMAGE, TEST_LABELS

# What this module's objects are labelled managed by (a platform's id in the deployer).
TEST_INSTALLATION = "adapter-tests"
# Busybox httpd as PID 1 ignores SIGTERM: a short grace period keeps stop-first updates quick.
STOP_GRACE_SECONDS = 0.5
# A rollback on a host-mode port sometimes waits about a minute for Swarm to start the old task
# again (seen on this engine: the task stays "ready" while the port is released).
ROLLOUT_TIMEOUT_SECONDS = 120
HEALTHZ = HealthCheck(
    test=("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"),
    interval_s=0.3, timeout_s=1, retries=1,
)  # fmt: skip
WEB_DOCKERFILE = """\
FROM {base}
RUN mkdir /www && echo '{content}' > /www/index.html {healthz}
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""


def fetch(url: str, deadline_seconds: float = 20) -> str:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode().strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def lines_sink() -> tuple[list[str], callable]:
    lines: list[str] = []
    return lines, lines.append


# --- needs no engine ---------------------------------------------------------------------------------


def test_manager_problem_names_the_fix():
    assert manager_problem({"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}) is None
    inactive = manager_problem({"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False}})
    assert "docker swarm init --advertise-addr" in inactive and "inactive" in inactive
    assert "docker swarm init" in manager_problem({})
    worker = manager_problem({"Swarm": {"LocalNodeState": "active", "ControlAvailable": False}})
    assert "worker" in worker and "manager" in worker


def test_names_are_stable_valid_dns_labels():
    project = "0b9f6c1e-1111-2222-3333-444455556666"
    name = service_name(project, "web")
    assert name == service_name(project, "web") and name.startswith("web-")
    assert service_name(project, "web") != service_name(project.replace("0b", "0c"), "web")
    long_a, long_b = service_name(project, "a" * 63), service_name(project, "a" * 62 + "b")
    for candidate in (name, long_a, long_b, service_name(project, "Under_Score")):
        assert len(candidate) <= 63 and candidate[0].isalnum() and candidate[-1].isalnum()
        assert set(candidate) <= set("abcdefghijklmnopqrstuvwxyz0123456789-"), candidate
    assert long_a != long_b
    assert network_name(project) == network_name(project) and project in network_name(project)


def request_for(**overrides) -> ServiceRequest:
    fields = dict(
        application_id="a1", project_id="p1", deployment_id="d1", application_name="web", image="x",
        command=None, env={}, volumes=(), replicas=1, ports=(), health_check=None, resources=Resources(),
        stateful=False, registry_auth=None,
    )  # fmt: skip
    return ServiceRequest(**{**fields, **overrides})


def test_references_split_intorepository_and_tag():
    assert repository_and_tag("web") == ("web", "latest")
    assert repository_and_tag("dockyard/web:v1") == ("dockyard/web", "v1")
    assert repository_and_tag("127.0.0.1:5000/web") == ("127.0.0.1:5000/web", "latest")
    assert repository_and_tag("127.0.0.1:5000/web:v1@sha256:ab") == ("127.0.0.1:5000/web", "v1")


def test_update_order_is_stop_first_only_when_tasks_cannot_overlap():
    assert update_order(request_for()) == "start-first"
    assert update_order(request_for(ports=(Port(target=80, published=8080),))) == "start-first"
    assert update_order(request_for(ports=(Port(target=80, mode="host"),))) == "stop-first"
    assert update_order(request_for(stateful=True)) == "stop-first"


def test_names_resolve_by_dns_unless_the_routing_mesh_publishes_a_port():
    def mode(**overrides) -> str:
        return service_spec(request_for(**overrides), TEST_INSTALLATION)["endpoint_spec"]["Mode"]

    assert mode() == "dnsrr"
    assert mode(ports=(Port(target=80, published=8080, mode="host"),)) == "dnsrr"
    assert mode(ports=(Port(target=80, published=8080),)) == "vip"


# --- against the engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def swarm(docker_client, busybox_image):
    adapter = Swarm(DockerEngine(None), installation=TEST_INSTALLATION)
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
async def project_id(swarm, docker_client, web_images):
    """A project of the module's own; its services and network are removed at the end (before the
    images they run, which the engine would not remove while in use)."""
    project = f"test-{secrets.token_hex(6)}"
    yield project
    for state in await swarm.managed_services():
        if state.project_id == project:
            await swarm.remove_service(state.application_id)
    deadline = time.monotonic() + 30
    while True:  # the network stays in use until the services' tasks have detached from it
        try:
            await swarm.remove_network(project)
            break
        except FailedPrecondition:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    # Swarm removes a network, and the services' containers, a moment after it was asked to.
    await until(
        lambda: asyncio.to_thread(lambda: not docker_client.networks.list(names=[network_name(project)]))
    )
    containers = {"label": f"{LABEL_PROJECT}={project}"}
    await until(
        lambda: asyncio.to_thread(lambda: not docker_client.containers.list(all=True, filters=containers))
    )


@pytest.fixture(scope="module")
async def web_images(swarm, tmp_path_factory):
    """Tags of three web images: v1 and v2 serve /healthz, broken does not."""
    token = secrets.token_hex(4)
    tags = {}
    for version, healthz in (("v1", True), ("v2", True), ("broken", False)):
        context = tmp_path_factory.mktemp(f"web-{version}")
        (context / "Dockerfile").write_text(
            WEB_DOCKERFILE.format(
                base=BUSYBOX_IMAGE, content=version, healthz="&& echo ok > /www/healthz" if healthz else ""
            )
        )
        tags[version] = f"dockyard-test/web:{token}-{version}"
        await swarm.build(context, "Dockerfile", tags[version], lambda line: None, labels=TEST_LABELS)
    yield tags
    for tag in tags.values():
        await swarm.remove_image(tag)


def web_request(project_id: str, application_id: str, image: str, port: int, **overrides) -> ServiceRequest:
    fields = dict(
        application_id=application_id, project_id=project_id, deployment_id=secrets.token_hex(4),
        application_name=f"web-{application_id}", image=image, command=None, env={"GREETING": "hi"},
        volumes=(), replicas=1, ports=(Port(target=8080, published=port, mode="host"),),
        health_check=HEALTHZ, resources=Resources(cpus=0.5, memory_mb=64), stateful=False,
        registry_auth=None, monitor_seconds=1.0, stop_grace_seconds=STOP_GRACE_SECONDS,
    )  # fmt: skip
    return ServiceRequest(**{**fields, **overrides})


async def deploy(swarm: Swarm, request: ServiceRequest):
    lines, sink = lines_sink()
    try:
        async with asyncio.timeout(ROLLOUT_TIMEOUT_SECONDS):
            rollout = await swarm.deploy(request, sink)
    except TimeoutError:
        pytest.fail(f"the rollout did not settle in {ROLLOUT_TIMEOUT_SECONDS} s:\n" + "\n".join(lines))
    return rollout, lines


@pytest.mark.docker
async def test_require_manager_passes_on_this_engine(swarm):
    await swarm.require_manager()


@pytest.mark.docker
async def test_service_deploys_updates_and_rolls_back_a_failing_health_check(
    swarm, project_id, web_images, docker_client
):
    application = f"app-{secrets.token_hex(3)}"
    port = free_port()
    url = f"http://127.0.0.1:{port}/index.html"
    assert await swarm.ensure_network(project_id) == await swarm.ensure_network(project_id)
    assert len(docker_client.networks.list(names=[network_name(project_id)])) == 1

    first = web_request(project_id, application, web_images["v1"], port)
    rollout, lines = await deploy(swarm, first)
    assert rollout.outcome == "converged", (rollout, lines)
    assert any("running" in line for line in lines), lines
    assert await asyncio.to_thread(fetch, url) == "v1"

    service = docker_client.services.list(filters={"label": f"dockyard.application_id={application}"})[0]
    spec = service.attrs["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert spec["Name"] == service_name(project_id, first.application_name)
    assert spec["Labels"][LABEL_MANAGED] == TEST_INSTALLATION and container["Labels"] == spec["Labels"]
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 2**20}
    assert (
        spec["UpdateConfig"]["Order"] == "stop-first" and spec["UpdateConfig"]["FailureAction"] == "rollback"
    )
    assert container["Healthcheck"]["Interval"] == 300_000_000 and "GREETING=hi" in container["Env"]

    second = web_request(project_id, application, web_images["v2"], port)
    rollout, lines = await deploy(swarm, second)
    assert rollout.outcome == "converged", (rollout, lines)
    assert await asyncio.to_thread(fetch, url) == "v2"

    broken = web_request(project_id, application, web_images["broken"], port)
    rollout, lines = await deploy(swarm, broken)
    assert rollout.outcome == "rolled_back", (rollout, lines)
    assert rollout.detail, rollout
    assert await asyncio.to_thread(fetch, url) == "v2"
    state = await swarm.inspect(application)
    assert (state.image, state.deployment_id, state.replicas) == (web_images["v2"], second.deployment_id, 1)
    assert state.update_state == "rollback_completed"
    assert application in {managed.application_id for managed in await swarm.managed_services()}

    await swarm.remove_service(application)
    await swarm.remove_service(application)  # idempotent
    assert await swarm.inspect(application) is None


@pytest.mark.docker
async def test_rollback_ends_an_update_in_progress(swarm, project_id, web_images):
    application = f"app-{secrets.token_hex(3)}"
    first = web_request(project_id, application, web_images["v1"], free_port(), ports=())
    rollout, lines = await deploy(swarm, first)
    assert rollout.outcome == "converged", (rollout, lines)
    await swarm.rollback(application)  # no update in progress: nothing happens
    assert (await swarm.inspect(application)).update_state is None

    # The broken image never gets healthy, and with many retries its task stays "starting" meanwhile.
    slow = dataclasses.replace(HEALTHZ, retries=100)
    update = asyncio.create_task(
        deploy(
            swarm, web_request(project_id, application, web_images["broken"], 0, ports=(), health_check=slow)
        )
    )
    await until(lambda: _equals(_update_state(swarm, application), "updating"))
    await swarm.rollback(application)
    rollout, lines = await update
    assert rollout.outcome == "rolled_back", (rollout, lines)
    state = await swarm.inspect(application)
    assert (state.image, state.deployment_id) == (web_images["v1"], first.deployment_id)
    await swarm.remove_service(application)


async def _update_state(swarm: Swarm, application: str) -> str | None:
    return (await swarm.inspect(application)).update_state


@pytest.mark.docker
async def test_a_service_whose_task_fails_reports_the_failure(swarm, project_id, web_images):
    application = f"app-{secrets.token_hex(3)}"
    request = web_request(
        project_id, application, web_images["v1"], free_port(), command=("sh", "-c", "exit 3"), ports=(),
        health_check=None, monitor_seconds=4,  # Swarm may report the task running for a second or two first
    )  # fmt: skip
    rollout, lines = await deploy(swarm, request)
    assert rollout.outcome == "failed", (rollout, lines)
    assert "exit" in rollout.detail and "3" in rollout.detail, rollout
    await swarm.remove_service(application)


async def running_tasks(docker_client, application: str) -> int:
    service = docker_client.services.list(filters={"label": f"dockyard.application_id={application}"})[0]
    return sum(
        1 for task in service.tasks({"desired-state": "running"}) if task["Status"]["State"] == "running"
    )


async def until(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.3)


@pytest.mark.docker
async def test_scale_to_zero_and_back(swarm, project_id, web_images, docker_client):
    application = f"app-{secrets.token_hex(3)}"
    request = web_request(project_id, application, web_images["v1"], free_port(), ports=(), replicas=2)
    rollout, lines = await deploy(swarm, request)
    assert rollout.outcome == "converged", (rollout, lines)
    assert await running_tasks(docker_client, application) == 2

    await swarm.scale(application, 0)
    assert (await swarm.inspect(application)).replicas == 0
    await until(lambda: _equals(running_tasks(docker_client, application), 0))
    await swarm.scale(application, 1)
    await until(lambda: _equals(running_tasks(docker_client, application), 1))
    state = await swarm.inspect(application)
    assert (state.replicas, state.image, state.deployment_id) == (1, web_images["v1"], request.deployment_id)
    with pytest.raises(Exception, match="no service"):
        await swarm.scale("no-such-application", 1)
    await swarm.remove_service(application)


async def _equals(value, expected) -> bool:
    return await value == expected


@pytest.mark.docker
async def test_build_streams_lines_and_a_failing_build_says_why(swarm, tmp_path, docker_client):
    (tmp_path / "build.Dockerfile").write_text(
        f"FROM {BUSYBOX_IMAGE}\nRUN echo built-line-one && echo built-line-two\n"
    )
    tag = f"dockyard-test/built:{secrets.token_hex(4)}"
    lines, sink = lines_sink()
    try:
        image = await swarm.build(tmp_path, "build.Dockerfile", tag, sink, labels=TEST_LABELS)
        assert "built-line-one" in lines and "built-line-two" in lines, lines
        assert image.image_id.startswith("sha256:") and image.reference == tag and image.size_mb > 0
        assert any(image_id == image.image_id for image_id, _ in await swarm.managed_images())
    finally:
        await swarm.remove_image(tag)
    await swarm.remove_image(tag)  # idempotent
    assert not docker_client.images.list(name=tag)

    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nRUN echo about-to-fail && exit 7\n")
    with pytest.raises(BuildFailed) as failure:
        await swarm.build(tmp_path, "Dockerfile", tag, lambda line: None, labels=TEST_LABELS)
    assert "about-to-fail" in failure.value.message and "7" in failure.value.message


@pytest.mark.docker
async def test_cancelling_a_build_stops_it_and_leaves_no_container(swarm, tmp_path, docker_client):
    marker = secrets.token_hex(4)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BUSYBOX_IMAGE}\nLABEL dockyard.build-test={marker}\nRUN echo sleeping && sleep 60\n"
    )
    started = threading.Event()

    def on_line(line: str) -> None:  # called from the build's worker thread
        if "sleeping" in line:
            started.set()

    tag = f"dockyard-test/cancelled:{marker}"
    build = asyncio.create_task(swarm.build(tmp_path, "Dockerfile", tag, on_line, labels=TEST_LABELS))
    await until(lambda: asyncio.to_thread(started.wait, 0), seconds=30)
    cancelled_at = time.monotonic()
    build.cancel()
    with pytest.raises(asyncio.CancelledError):
        await build
    assert time.monotonic() - cancelled_at < 5
    label = {"label": f"dockyard.build-test={marker}"}
    await until(lambda: asyncio.to_thread(lambda: not docker_client.containers.list(all=True, filters=label)))
    assert not docker_client.images.list(name=tag)


@pytest.mark.docker
async def test_ensure_image_uses_the_local_image_and_names_one_it_cannot_find(swarm, busybox_image):
    lines, sink = lines_sink()
    local = await swarm.ensure_image(busybox_image, "missing", None, sink)
    assert local.reference == busybox_image and local.image_id.startswith("sha256:")
    assert any("using the local image" in line for line in lines), lines
    # Nothing listens on the port: the pull fails at once rather than waiting for a registry.
    missing = f"127.0.0.1:{free_port()}/dockyard-test/nothing:1"
    with pytest.raises(FailedPrecondition, match=missing):
        await swarm.ensure_image(missing, "missing", None, sink)


# --- git -----------------------------------------------------------------------------------------------


def git(*args: str, cwd: pathlib.Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def bare_repository(tmp_path) -> tuple[str, dict[str, str]]:
    """file:// URL of a bare repository (main, a feature branch, a tag) and the commits' shas."""
    work, bare = tmp_path / "work", tmp_path / "origin.git"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "Dockerfile").write_text("FROM scratch\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    shas = {"first": git("rev-parse", "HEAD", cwd=work)}
    git("tag", "v1", cwd=work)
    (work / "more.txt").write_text("more\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "second", cwd=work)
    shas["main"] = git("rev-parse", "HEAD", cwd=work)
    git("checkout", "-q", "-b", "feature", shas["first"], cwd=work)
    (work / "feature.txt").write_text("feature\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "feature", cwd=work)
    shas["feature"] = git("rev-parse", "HEAD", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return f"file://{bare}", shas


async def test_git_checkout_of_branches_tags_and_commits(bare_repository, tmp_path):
    url, shas = bare_repository
    lines, sink = lines_sink()
    assert await checkout(url, None, "main", tmp_path / "a", sink) == shas["main"]
    assert (tmp_path / "a" / "more.txt").is_file()
    assert any("Cloning" in line for line in lines), lines
    assert await checkout(url, "feature", "main", tmp_path / "b", sink) == shas["feature"]
    assert (tmp_path / "b" / "feature.txt").is_file() and not (tmp_path / "b" / "more.txt").exists()
    assert await checkout(url, "v1", "main", tmp_path / "c", sink) == shas["first"]
    assert await checkout(url, shas["first"], "main", tmp_path / "d", sink) == shas["first"]
    with pytest.raises(FailedPrecondition, match="no-such-branch"):
        await checkout(url, "no-such-branch", "main", tmp_path / "e", sink)
    with pytest.raises(FailedPrecondition, match="git clone of"):
        await checkout(f"file://{tmp_path}/missing.git", None, "main", tmp_path / "f", sink)


async def test_git_hides_credentials_in_the_url(tmp_path):
    lines, sink = lines_sink()
    with pytest.raises(FailedPrecondition) as failure:
        await checkout(
            f"http://user:s3cret@127.0.0.1:{free_port()}/x.git", None, "main", tmp_path / "x", sink
        )
    assert "s3cret" not in failure.value.message and not any("s3cret" in line for line in lines)
