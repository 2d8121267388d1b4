"""Deployments as the tests ask for them, shared by every area that deploys: a busybox web
application, a deployment asked for and awaited over REST, its page fetched, and the Swarm objects of a
project removed afterwards."""

import time
import urllib.request

import docker.errors

from dockyard_kit.stack.components import free_port
from services.deployer.docker.swarm import LABEL_PROJECT, network_name
from tests.support.resources import call, new_app
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


def wait_final(stack, account, deployment_id: str, timeout: float = 150) -> dict:
    """The deployment once it has ended. The bound is generous: a rollback on a host-mode port may
    wait a minute for Swarm to restart the old task."""

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


def remove_project_services(docker_client, project_id: str) -> None:
    """The Swarm services of one project's applications only (other test modules on the same engine
    may be rolling theirs out meanwhile), and the project's network, which the platform keeps while
    the project lives (docker_support fails the session on what is left)."""
    for service in docker_client.services.list(filters={"label": f"{LABEL_PROJECT}={project_id}"}):
        service.remove()

    def network_removed(network) -> bool:
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if error.status_code not in (403, 409):  # the removed services' tasks are still attached
                raise
            return False
        return True

    name = network_name(project_id)
    for network in docker_client.networks.list(names=[name]):
        if network.name == name:  # the filter also matches names that merely contain it
            eventually(lambda network=network: network_removed(network), timeout=30, interval=0.5)
