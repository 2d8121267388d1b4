"""What the deployer's tests share: a web application made from the local busybox test image,
deployments asked for and awaited over REST, and cleanup of the Swarm objects the platform made."""

import time
import urllib.request

from dockyard_kit.stack.components import free_port
from services.deployer.docker.swarm import LABEL_MANAGED
from tests.projects.support import call, new_app
from tests.support.waiting import eventually

FINAL = ("success", "failed", "rolled_back")


def web_config(image: str, port: int, content: str = "hello", **extra) -> dict:
    """busybox httpd serving `content` on 8080, published on the host's `port`."""
    command = f"mkdir -p /www && echo {content} > /www/index.html && exec httpd -f -p 8080 -h /www"
    return {
        "image": image,
        "command": command,
        "ports": [{"target": 8080, "published": port, "mode": "host"}],
        **extra,
    }


def web_app(stack, account, project_id: str, image: str, **fields):
    """A new image application and its host port."""
    port = free_port()
    app = new_app(stack, account, project_id, docker_config=web_config(image, port), **fields)
    return app, port


def deploy(stack, account, application_id: str, **body) -> dict:
    status, deployment = call(stack, account, "POST", f"/v1/applications/{application_id}/deployments", body)
    assert status == 200, deployment
    return deployment


def wait_final(stack, account, deployment_id: str, timeout: float = 90) -> dict:
    def ended():
        status, body = call(stack, account, "GET", f"/v1/deployments/{deployment_id}")
        assert status == 200, body
        return body if body["status"] in FINAL else None

    return eventually(ended, timeout=timeout, interval=0.25)


def fetch(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.read().decode().strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def remove_managed_services(docker_client) -> None:
    for service in docker_client.services.list(filters={"label": f"{LABEL_MANAGED}=1"}):
        service.remove()
