"""A deployment's phases and what the platform keeps, on the running platform with a real Docker
Swarm: a build is cancelled (the previous version keeps answering, nothing is left behind) or runs
out of its time; the seed's retention deletes old log lines and archives old deployments, which
can no longer be rolled back to; env vars and volumes reach the container, and an application is
reachable from its project's network only."""

import dataclasses
import uuid

import docker.errors
import pytest

from services.deployer.docker.swarm import LABEL_APPLICATION, network_name
from tests.deployer.support import (
    build_containers,
    git_app,
    git_repository,
    image_tags,
    log_messages,
    push_commit,
    remove_built_images,
    web_dockerfile,
)
from tests.docker_support import TEST_LABELS
from tests.support.deployments import deploy, fetch, remove_project_services, wait_final, web_config
from tests.support.resources import call, create, new_app, sql
from tests.support.waiting import eventually

BUILD_TIMEOUT_SECONDS = 10
# Longer than the build timeout: a build that must be stopped (cancelled, or timed out).
SLOW_BUILD_SECONDS = 40
FAILED_PRECONDITION = 9  # google.rpc.Code, in a REST error's body


@pytest.fixture(scope="module")
def stack_env():
    return {
        "DOCKYARD_BUILD_TIMEOUT_SECONDS": str(BUILD_TIMEOUT_SECONDS),
        "DOCKYARD_RETENTION_INTERVAL_SECONDS": "1",
        "DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1",
        "DOCKYARD_DEPLOY_LEASE_SECONDS": "3",
    }


@dataclasses.dataclass
class Made:
    """What the module's tests made through the platform, removed from the engine at its end: the
    projects' services and networks, the images built for the applications, the Docker volumes."""

    project_ids: list[str] = dataclasses.field(default_factory=list)
    built_for: list[str] = dataclasses.field(default_factory=list)
    volumes: list[str] = dataclasses.field(default_factory=list)


@pytest.fixture(scope="module")
def made(docker_client):
    made = Made()
    yield made
    for project_id in made.project_ids:
        remove_project_services(docker_client, project_id)
    remove_built_images(docker_client, made.built_for)
    for name in made.volumes:
        eventually(lambda name=name: removed_volume(docker_client, name), timeout=30, interval=0.5)


def new_project(stack, account, made: Made, **fields) -> dict:
    project = create(stack, account, **fields)
    made.project_ids.append(project["id"])
    return project


def removed_volume(docker_client, name: str) -> bool:
    try:
        docker_client.volumes.get(name).remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: a container (of a service being removed) still uses it
            raise
        return False
    return True


@pytest.fixture(scope="module")
def project(stack, people, made):
    return new_project(stack, people.owner, made, team_id=people.crew.id)


def slow_dockerfile(base_image: str, content: str, marker: str) -> str:
    """web_dockerfile's, with a build lasting SLOW_BUILD_SECONDS whose step containers do not carry
    the test image's label: a test session starting or ending on this engine meanwhile removes the
    containers that do, which would end the build before its cancel or its timeout."""
    base, steps = web_dockerfile(base_image, content, marker, SLOW_BUILD_SECONDS).split("\n", 1)
    [(label, _)] = TEST_LABELS.items()
    return f"{base}\nLABEL {label}=slow-build\n{steps}"


def wait_building(stack, account, deployment_id: str, marker: str) -> None:
    """Until the deployment is building and its RUN step has printed `marker`."""

    def building() -> bool:
        status = call(stack, account, "GET", f"/v1/deployments/{deployment_id}")[1]["status"]
        assert status in ("pending", "building"), f"the deployment went on to {status}"
        return status == "building" and any(
            f"building {marker}" in m for m in log_messages(stack, deployment_id)
        )

    eventually(building, timeout=60, interval=0.2)


def test_cancelling_a_build_keeps_the_previous_version_and_leaves_nothing(
    stack, people, project, busybox_image, docker_client, made, tmp_path
):
    url, _ = git_repository(tmp_path, {"Dockerfile": web_dockerfile(busybox_image, "b1", uuid.uuid4().hex)})
    app, _, port = git_app(stack, people.owner, project["id"], url, secret="s-" + uuid.uuid4().hex)
    made.built_for.append(app["id"])
    first = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    assert first["status"] == "success", (first["metadata"], first["logs"])
    assert fetch(port) == "b1"

    marker = uuid.uuid4().hex
    push_commit(tmp_path, {"Dockerfile": slow_dockerfile(busybox_image, "b2", marker)})
    building = deploy(stack, people.owner, app["id"])
    wait_building(stack, people.owner, building["id"], marker)
    assert build_containers(docker_client, marker), "the build runs in no container"
    status, asked = call(stack, people.member, "POST", f"/v1/deployments/{building['id']}:cancel", {})
    assert status == 200 and asked["status"] == "building", asked

    # Well within the build timeout: the cancel stopped the build, not the timeout.
    ended = wait_final(stack, people.owner, building["id"], timeout=BUILD_TIMEOUT_SECONDS - 2)
    assert ended["status"] == "failed", (ended["metadata"], ended["logs"])
    assert ended["metadata"]["reason"] == "cancelled", ended["metadata"]
    assert ended["metadata"]["phase"] == "building"
    assert ended["metadata"]["cancelled_by"] == people.member.id
    assert "cancelled during building" in ended["logs"], ended["logs"]
    assert f"dockyard-app-{app['id']}:{building['id']}" not in image_tags(docker_client)
    eventually(lambda: not build_containers(docker_client, marker), timeout=10, interval=0.5)
    assert fetch(port) == "b1"


def test_a_build_past_its_timeout_fails_and_leaves_no_image(
    stack, people, project, busybox_image, docker_client, made, tmp_path
):
    marker = uuid.uuid4().hex
    url, _ = git_repository(tmp_path, {"Dockerfile": slow_dockerfile(busybox_image, "late", marker)})
    app, _, _ = git_app(stack, people.owner, project["id"], url, secret="s-" + uuid.uuid4().hex)
    made.built_for.append(app["id"])
    deployment = deploy(stack, people.owner, app["id"])
    wait_building(stack, people.owner, deployment["id"], marker)

    ended = wait_final(stack, people.owner, deployment["id"], timeout=BUILD_TIMEOUT_SECONDS + 10)
    assert ended["status"] == "failed", (ended["metadata"], ended["logs"])
    reason = ended["metadata"]["reason"]
    assert reason == f"build timed out after {BUILD_TIMEOUT_SECONDS} s", ended["metadata"]
    assert ended["metadata"]["phase"] == "building"
    assert f"dockyard-app-{app['id']}:{deployment['id']}" not in image_tags(docker_client)
    eventually(lambda: not build_containers(docker_client, marker), timeout=10, interval=0.5)


# ---- retention ----


def insert_deployment(stack, application: dict, project_id: str, *, days_ago: float, status: str) -> str:
    """A finished deployment row, started a minute before it completed `days_ago` days ago."""
    metadata = '{"image": "dockyard-test/busybox:latest", "built": false, "duration_seconds": 60}'
    [row] = sql(
        stack,
        "deployer",
        "INSERT INTO deployments (application_id, project_id, status, logs, metadata, started_at,"
        " completed_at) VALUES ($1, $2, $3, 'the summary', $4::jsonb,"
        " now() - make_interval(secs => $5 * 86400 + 60), now() - make_interval(secs => $5 * 86400))"
        " RETURNING id",
        uuid.UUID(application["id"]),
        uuid.UUID(project_id),
        status,
        metadata,
        float(days_ago),
    )
    return str(row["id"])


def insert_lines(stack, deployment_id: str, days_ago: float, count: int, text: str) -> None:
    sql(
        stack,
        "deployer",
        "INSERT INTO deployment_logs (deployment_id, level, message, created_at)"
        " SELECT $1, 'info', $2 || n, now() - make_interval(secs => $3 * 86400)"
        " FROM generate_series(1, $4) AS n",
        uuid.UUID(deployment_id),
        text,
        float(days_ago),
        count,
    )


def test_retention_deletes_old_lines_and_archives_old_deployments(stack, people, project, busybox_image):
    app = new_app(stack, people.owner, project["id"], docker_config=web_config(busybox_image, 0, ports=[]))
    old = insert_deployment(stack, app, project["id"], days_ago=100, status="success")
    insert_lines(stack, old, 100, 3, "old deployment line ")
    recent = insert_deployment(stack, app, project["id"], days_ago=1, status="failed")
    insert_lines(stack, recent, 40, 3, "forty days old ")
    insert_lines(stack, recent, 0, 2, "fresh ")

    def retained():
        [row] = sql(stack, "deployer", "SELECT logs, metadata FROM deployments WHERE id = $1", uuid.UUID(old))
        if '"archived_at"' not in row["metadata"] or log_messages(stack, recent) != ["fresh 1", "fresh 2"]:
            return None
        return row

    row = eventually(retained, timeout=15, interval=0.5)
    assert row["logs"] == ""
    assert log_messages(stack, old) == []

    status, archived = call(stack, people.owner, "GET", f"/v1/deployments/{old}")
    assert status == 200, archived
    assert archived["status"] == "success" and archived["logs"] == ""
    assert archived["metadata"]["image"] == "dockyard-test/busybox:latest"
    assert archived["metadata"]["duration_seconds"] == 60 and archived["metadata"]["archived_at"]
    status, kept = call(stack, people.owner, "GET", f"/v1/deployments/{recent}")
    assert status == 200 and kept["logs"] == "the summary", kept
    assert "archived_at" not in kept["metadata"]

    # Its image may be gone: a rollback to it is refused (once the deployer knows the application).
    def refused():
        status, body = call(
            stack, people.owner, "POST", f"/v1/applications/{app['id']}:rollback", {"deployment_id": old}
        )
        return (status, body) if status != 404 else None

    status, body = eventually(refused, timeout=10, interval=0.2)
    assert (status, body["code"]) == (400, FAILED_PRECONDITION), body
    assert "past retention" in body["message"], body


# ---- env vars, volumes and project networks ----


# The test image's busybox is static, and its wget crashes (a static glibc binary without the NSS
# libraries it loads); its nslookup and nc ask the network's DNS themselves. So a plain HTTP/1.0
# request goes through nc, and the response's last line (the body, one line) is printed.
FETCH = (
    'response=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$0" 8080)'
    ' && [ -n "$response" ] && echo "$response" | tail -n 1'
)
RESOLVE = 'nslookup -type=a "$0"'


def probe(docker_client, image: str, network: str, script: str, name: str) -> tuple[int, str] | None:
    """`script` run on `name` in a container on `network`: (exit status, what it printed); None
    when the container went before it ended (another test session on this engine removes the
    containers of the test image when it starts and ends)."""
    container = docker_client.containers.run(
        image, ["sh", "-c", script, name], network=network, labels=TEST_LABELS, detach=True
    )
    try:
        status = container.wait(timeout=30)["StatusCode"]
        return status, container.logs().decode().strip()
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: being removed
            raise
        return None
    finally:
        removed_container(container)


def removed_container(container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: its removal is under way already
            raise


def probed(
    docker_client, image: str, network: str, script: str, name: str, *, until_success: bool
) -> tuple[int, str]:
    """probe()'s first result (probing again while the container went before it ended); with
    until_success, its first success (a new service's name takes a moment to resolve)."""
    results = []

    def awaited() -> bool:
        results.append(probe(docker_client, image, network, script, name))
        return results[-1] is not None and (results[-1][0] == 0 or not until_success)

    try:
        eventually(awaited, timeout=30, interval=0.5)
    except AssertionError:
        raise AssertionError(f"{script} on {name} from {network}, the last probes: {results[-3:]}") from None
    return results[-1]


def test_env_vars_and_volumes_reach_the_container_and_projects_are_isolated(
    stack, people, project, made, busybox_image, docker_client
):
    app = new_app(
        stack, people.owner, project["id"], docker_config=web_config(busybox_image, 0, "inside-a", ports=[])
    )
    env_path = f"/v1/applications/{app['id']}/env-vars"
    api_key = "s3cr3t-" + uuid.uuid4().hex
    for key, value, secret in (("GREETING", "hello-a", False), ("API_KEY", api_key, True)):
        status, body = call(
            stack, people.owner, "POST", env_path, {"key": key, "value": value, "is_secret": secret}
        )
        assert status == 200, body
    status, volume = call(
        stack,
        people.owner,
        "POST",
        f"/v1/projects/{project['id']}/volumes",
        {
            "name": "data-" + uuid.uuid4().hex[:8],
            "mount_path": "/data",
            "size_gb": 1,
            "application_id": app["id"],
        },
    )
    assert status == 200, volume
    made.volumes.append(volume["docker_name"])
    ended = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert api_key not in ended["logs"] and api_key not in "\n".join(log_messages(stack, ended["id"]))

    containers = eventually(
        lambda: docker_client.containers.list(filters={"label": f"{LABEL_APPLICATION}={app['id']}"}),
        timeout=30,
    )
    [container] = containers
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["GREETING"] == "hello-a" and env["API_KEY"] == api_key
    mounts = [(m["Type"], m.get("Name"), m["Destination"]) for m in container.attrs["Mounts"]]
    assert ("volume", volume["docker_name"], "/data") in mounts, mounts

    # Another project, with a network of its own once it deploys.
    other = new_project(stack, people.owner, made)
    elsewhere = new_app(
        stack, people.owner, other["id"], docker_config=web_config(busybox_image, 0, "b", ports=[])
    )
    ended = wait_final(stack, people.owner, deploy(stack, people.owner, elsewhere["id"])["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])

    # The application's name resolves on its project's network. Its tasks answer there under
    # tasks.<name>: the name's virtual IP routes only where the kernel has IPVS, which not every
    # engine the tests run on has.
    a_network, b_network = network_name(project["id"]), network_name(other["id"])
    probed(docker_client, busybox_image, a_network, RESOLVE, app["name"], until_success=True)
    tasks = f"tasks.{app['name']}"
    answer = probed(docker_client, busybox_image, a_network, FETCH, tasks, until_success=True)
    assert answer == (0, "inside-a")
    # From the other project's network neither resolves, nor answers.
    for name in (app["name"], tasks):
        for script in (RESOLVE, FETCH):
            status, output = probed(
                docker_client, busybox_image, b_network, script, name, until_success=False
            )
            assert status != 0 and "inside-a" not in output, (script, name, status, output)
