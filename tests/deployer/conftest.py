"""Fixtures every deployer test module shares (a module may define its own instead)."""

import grpc
import pytest

from dockyard.deployer.v1 import deployer_pb2_grpc
from tests.deployer.support import remove_built_images
from tests.support.deployments import remove_project_services
from tests.support.resources import create


@pytest.fixture(scope="module")
def stack_env():
    """The deployer's settings for a module's platform: a short rollout monitor and lease, so that
    deployments and take-overs are quick."""
    return {"DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1", "DOCKYARD_DEPLOY_LEASE_SECONDS": "3"}


@pytest.fixture(scope="module")
def deployer_direct(stack):
    """DeploymentService straight to the deployer, bypassing the gateway."""
    with grpc.insecure_channel(stack.addresses["deployer"]) as channel:
        yield deployer_pb2_grpc.DeploymentServiceStub(channel)


@pytest.fixture(scope="module")
def built_for():
    """The applications whose built images the module removes at its end."""
    return []


@pytest.fixture(scope="module")
def project(stack, people, docker_client, built_for):
    """A project of `owner`'s worked on by the crew team; at the module's end its Swarm services and
    network go (only its own: other modules may be deploying on the same engine), and the images
    built for `built_for`'s applications."""
    project = create(stack, people.owner, team_id=people.crew.id)
    yield project
    remove_project_services(docker_client, project["id"])
    remove_built_images(docker_client, built_for)
