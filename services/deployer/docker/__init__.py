"""The deployer's adapter to the Docker Engine and its Swarm: the only deployer code that talks to
Docker (besides the engine status check in services/deployer/engine.py). The domain deploys through
Swarm (services, networks, images, builds) and git.checkout (sources)."""

from services.deployer.docker.builds import BuildFailed
from services.deployer.docker.git import checkout
from services.deployer.docker.swarm import (
    LABEL_APPLICATION,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_PROJECT,
    ImageInfo,
    Rollout,
    ServiceRequest,
    ServiceState,
    Swarm,
    network_name,
    service_name,
)

__all__ = [
    "LABEL_APPLICATION",
    "LABEL_DEPLOYMENT",
    "LABEL_MANAGED",
    "LABEL_PROJECT",
    "BuildFailed",
    "ImageInfo",
    "Rollout",
    "ServiceRequest",
    "ServiceState",
    "Swarm",
    "checkout",
    "network_name",
    "service_name",
]
