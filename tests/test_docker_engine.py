"""The Docker Engine link: a locally built image runs and serves HTTP on loopback, and the deployer's
engine status reports a live engine as it is and a dead one quickly, as unavailable."""

import asyncio
import secrets
import time
import urllib.request

import pytest

from dockyard_kit.stack.components import free_port
from services.deployer.engine import DockerEngine
from tests.docker_support import TEST_LABELS


def fetch_when_served(url: str, deadline_seconds: float = 15) -> str:
    """The body at url, retried until the server in the container has started listening."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.docker
def test_busybox_container_serves_a_file_over_http(docker_client, busybox_image):
    content = f"hello from dockyard {secrets.token_hex(8)}"
    port = free_port()
    container = docker_client.containers.run(
        busybox_image,
        ["sh", "-c", f"mkdir /www && echo '{content}' > /www/hello.txt && exec httpd -f -p 8080 -h /www"],
        ports={"8080/tcp": ("127.0.0.1", port)},
        labels=TEST_LABELS,
        detach=True,
    )
    try:
        assert fetch_when_served(f"http://127.0.0.1:{port}/hello.txt") == content + "\n"
    finally:
        # httpd runs as PID 1 and ignores SIGTERM, so a short grace period before SIGKILL is enough.
        container.stop(timeout=1)
        container.remove()
    assert not docker_client.containers.list(all=True, filters={"id": container.id})


@pytest.mark.docker
async def test_engine_status_reports_the_running_engine(docker_client):
    info = docker_client.info()
    engine = DockerEngine(None)
    try:
        status = await engine.status()
    finally:
        engine.close()
    assert status.available, status.error
    assert status.version == info["ServerVersion"] and status.version
    assert status.swarm_active is (info["Swarm"]["LocalNodeState"] == "active")
    assert status.error == ""


async def test_engine_status_reports_an_unreachable_engine_quickly():
    """Needs no engine: nothing listens on the port, so the answer must be "unavailable", not a hang."""
    engine = DockerEngine(f"tcp://127.0.0.1:{free_port()}")
    try:
        status = await asyncio.wait_for(engine.status(), timeout=5)
    finally:
        engine.close()
    assert not status.available
    assert status.version == "" and status.swarm_active is False
    assert "refused" in status.error.lower(), status.error
