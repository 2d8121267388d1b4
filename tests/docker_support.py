"""Pytest plugin for tests that need a Docker Engine (loaded by conftest's `pytest_plugins`).

Without a reachable engine these tests skip with the reason, or fail under DOCKYARD_REQUIRE_DOCKER=1
(as in CI), so a broken CI engine can never pass as "all skipped". There is no registry to pull from:
the test image is built locally, `FROM scratch`, around the host's static busybox. Containers the
tests start carry TEST_LABELS and are removed at the start and the end of the session.
"""

import os
import pathlib
import shutil
import tempfile
from typing import NoReturn

import docker
import docker.errors
import pytest

from services.deployer.engine import STATUS_TIMEOUT_SECONDS, explain_engine_error

# Containers inherit their image's labels, so those that code under test starts from the test image
# are cleaned up too.
TEST_LABELS = {"dockyard.test": "1"}
SWARM_TASK_LABEL = "com.docker.swarm.task.id"
BUSYBOX_IMAGE = "dockyard-test/busybox:latest"
# Debian's busybox-static: a static binary, so it runs in an image that holds nothing else.
HOST_BUSYBOX = pathlib.Path("/bin/busybox")
BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
"""
# Ordinary calls answer fast; builds and container stops may take longer than a status check.
CLIENT_TIMEOUT_SECONDS = 120


def docker_required() -> bool:
    return os.environ.get("DOCKYARD_REQUIRE_DOCKER") == "1"


def skip_or_fail(problem: str) -> NoReturn:
    """Skip with the problem as the reason, or fail with it where Docker is required."""
    if docker_required():
        pytest.fail(f"Docker is required (DOCKYARD_REQUIRE_DOCKER=1) but {problem}", pytrace=False)
    pytest.skip(problem)


def remove_test_containers(client: docker.DockerClient) -> None:
    label_filters = [f"{name}={value}" for name, value in TEST_LABELS.items()]
    for container in client.containers.list(all=True, filters={"label": label_filters}):
        if SWARM_TASK_LABEL in container.labels:
            # Swarm's own (a task of a service that a test, maybe of another session on this
            # engine, is rolling out): removing it only kills that task; services are removed by
            # the tests that made them.
            continue
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # gone meanwhile
        except docker.errors.APIError as error:
            # Swarm (or another test session) is removing it already.
            if error.status_code != 409:
                raise


def connect_to_docker() -> docker.DockerClient:
    """A client for the environment's Docker Engine (DOCKER_HOST, else the local socket), or skip/fail."""
    try:
        # A short timeout while connecting, so an unreachable engine is reported at once.
        client = docker.DockerClient.from_env(timeout=STATUS_TIMEOUT_SECONDS)
        client.ping()
        client.api.timeout = CLIENT_TIMEOUT_SECONDS
        return client
    except Exception as error:
        reason = explain_engine_error(error)
    # Reported outside the except block, so the report is the reason and not the SDK's traceback.
    where = os.environ.get("DOCKER_HOST", "the default Docker socket")
    skip_or_fail(f"Docker engine not reachable: {where}: {reason}")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = connect_to_docker()
    remove_test_containers(client)  # left over by an interrupted session
    yield client
    remove_test_containers(client)
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """The tag of a local busybox image (sh, httpd, wget, ...), built from the host's /bin/busybox."""
    if not HOST_BUSYBOX.is_file():
        skip_or_fail(f"{HOST_BUSYBOX} is missing (install Debian's busybox-static) to build the test image")
    with tempfile.TemporaryDirectory(prefix="dockyard-busybox-") as context:
        shutil.copy(HOST_BUSYBOX, pathlib.Path(context, "busybox"))
        pathlib.Path(context, "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
        try:
            # forcerm: a failed build leaves no stopped intermediate container behind either.
            docker_client.images.build(
                path=context, tag=BUSYBOX_IMAGE, labels=TEST_LABELS, rm=True, forcerm=True
            )
            return BUSYBOX_IMAGE
        except docker.errors.BuildError as error:
            build_output = "".join(entry.get("stream", "") for entry in error.build_log)
            failure = f"building {BUSYBOX_IMAGE} failed: {error.msg}"
    pytest.fail(
        f"{failure} (is {HOST_BUSYBOX} statically linked, as Debian's busybox-static is?)\n{build_output}",
        pytrace=False,
    )
