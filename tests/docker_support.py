"""Pytest plugin for tests that need a Docker Engine (loaded by conftest's `pytest_plugins`).

Without a reachable engine these tests skip with the reason, or fail under DOCKYARD_REQUIRE_DOCKER=1
(as in CI), so a broken CI engine can never pass as "all skipped". There is no registry to pull from:
the test image is built locally, `FROM scratch`, around the host's static busybox. Containers the
tests start carry TEST_LABELS and are removed at the start and the end of the session.

The session also fails if the platforms it started leave Docker objects behind (issue 14: no orphan
Docker objects after the suite): what carries LABEL_MANAGED with one of their installation ids when
the session ends is named in the failure, then removed so the next session starts clean.
"""

import functools
import os
import pathlib
import shutil
import tempfile
import time
from typing import NoReturn

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker.models.images import Image
from docker.models.services import Service

from services.deployer.docker.swarm import LABEL_MANAGED
from services.deployer.engine import STATUS_TIMEOUT_SECONDS, explain_engine_error
from tests.support.resources import sql
from tests.support.waiting import eventually

# Containers inherit their image's labels, so those that code under test starts from the test image
# are cleaned up too.
TEST_LABELS = {"dockyard.test": "1"}
SWARM_TASK_LABEL = "com.docker.swarm.task.id"
SWARM_SERVICE_LABEL = "com.docker.swarm.service.id"
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
# Swarm stops a removed service's containers a little later (their stop grace); only those still
# there after this long count as left behind.
STOPPING_SECONDS = 30
# The installation ids (deployer.installation) of the platforms this session started. A platform
# labels what it makes LABEL_MANAGED=<its id>, so these tell this session's objects from those of a
# concurrent session on the same engine (whose live services are not orphans, whatever their age).
SESSION_INSTALLATIONS: set[str] = set()


def docker_required() -> bool:
    return os.environ.get("DOCKYARD_REQUIRE_DOCKER") == "1"


def skip_or_fail(problem: str) -> NoReturn:
    """Skip with the problem as the reason, or fail with it where Docker is required."""
    if docker_required():
        pytest.fail(f"Docker is required (DOCKYARD_REQUIRE_DOCKER=1) but {problem}", pytrace=False)
    pytest.skip(problem)


def remove_test_containers(client: docker.DockerClient) -> None:
    label_filters = [f"{name}={value}" for name, value in TEST_LABELS.items()]
    for container in listed(client.containers.list, all=True, filters={"label": label_filters}):
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


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Records the installation id of each platform (tests.support.platform's `stack`) once it runs."""
    value = yield
    if fixturedef.argname == "stack":
        SESSION_INSTALLATIONS.add(str(sql(value, "deployer", "SELECT id FROM installation")[0]["id"]))
    return value


def listed(listing, **options) -> list:
    """A listing of the SDK's objects, read again when one went away between the list and its
    inspection (Swarm removes task containers at its own pace)."""
    for _ in range(10):
        try:
            return listing(**options)
        except docker.errors.NotFound:
            time.sleep(0.2)
    return listing(**options)


def session_objects(client: docker.DockerClient) -> list:
    """The services, containers, networks and images labelled managed by this session's platforms, in
    the order they can be removed in."""
    listings = (
        client.services.list,
        functools.partial(client.containers.list, all=True),
        client.networks.list,
        client.images.list,
    )
    found = []
    for listing in listings:
        for installation in sorted(SESSION_INSTALLATIONS):
            found += listed(listing, filters={"label": f"{LABEL_MANAGED}={installation}"})
    return found


def describe(thing) -> str:
    name = thing.tags[0] if isinstance(thing, Image) and thing.tags else getattr(thing, "name", None)
    return f"{type(thing).__name__.lower()} {name or thing.short_id} ({thing.short_id})"


def removed(client: docker.DockerClient, thing) -> bool:
    """Whether `thing` is gone; False while the engine refuses for now (a network or an image still
    in use by a container Swarm is stopping)."""
    try:
        if isinstance(thing, Image):
            client.images.remove(thing.id, force=True)
        elif isinstance(thing, Container):
            thing.remove(force=True)
        else:
            thing.remove()
    except docker.errors.NotFound:
        pass  # gone with its service meanwhile
    except docker.errors.APIError as error:
        if error.status_code not in (403, 409):  # in use, or being removed already
            raise
        return False
    return True


def check_no_orphans(client: docker.DockerClient) -> None:
    """Fails the session naming what its platforms left on the engine, once removed."""

    def settled() -> bool:
        # With no service left, the containers Swarm is still stopping are not left behind yet.
        things = session_objects(client)
        return any(isinstance(t, Service) for t in things) or not any(
            isinstance(t, Container) for t in things
        )

    try:
        eventually(settled, timeout=STOPPING_SECONDS, interval=0.5)
    except AssertionError:
        pass  # the containers still there are reported below
    left = session_objects(client)
    if not left:
        return
    for thing in left:
        eventually(lambda thing=thing: removed(client, thing), timeout=STOPPING_SECONDS, interval=0.5)
    services = {t.id for t in left if isinstance(t, Service)}
    # A reported service's containers go without saying.
    named = [
        t for t in left if not (isinstance(t, Container) and t.labels.get(SWARM_SERVICE_LABEL) in services)
    ]
    pytest.fail(
        "the platforms of this session left Docker objects behind (removed now): "
        + ", ".join(describe(thing) for thing in named),
        pytrace=False,
    )


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = connect_to_docker()
    remove_test_containers(client)  # left over by an interrupted session
    yield client
    remove_test_containers(client)
    try:
        check_no_orphans(client)
    finally:
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
