"""Settings only the deployer reads."""

import pathlib
import tempfile
from typing import Annotated

from pydantic import Field

from dockyard_kit.config import Settings


class DeployerSettings(Settings):
    # The Docker engine to deploy onto (a DOCKER_HOST-style URL); unset: the environment's default.
    DOCKER_HOST: str | None = None
    # Where built images are pushed so that every Swarm node can pull them (host:port); unset:
    # images stay on the engine that built them (a single-node swarm).
    DOCKYARD_REGISTRY: str | None = None
    # How many deployments run at once across all applications (one at a time per application).
    DOCKYARD_DEPLOY_CONCURRENCY: Annotated[int, Field(ge=1, le=64)] = 4
    # How long a worker's hold on a deployment lasts without renewal; a crashed worker's deployment
    # is taken over after this.
    DOCKYARD_DEPLOY_LEASE_SECONDS: Annotated[float, Field(ge=1, le=600)] = 15.0
    DOCKYARD_BUILD_TIMEOUT_SECONDS: Annotated[float, Field(gt=0)] = 1800.0
    DOCKYARD_ROLLOUT_TIMEOUT_SECONDS: Annotated[float, Field(gt=0)] = 600.0
    # How long Swarm watches a new version's health before an update counts as done.
    DOCKYARD_ROLLOUT_MONITOR_SECONDS: Annotated[float, Field(ge=0, le=600)] = 10.0
    # Images of this many successful deployments per application are kept for rollbacks.
    DOCKYARD_KEEP_IMAGES: Annotated[int, Field(ge=1, le=1000)] = 10
    # Where git sources are checked out while they build.
    DOCKYARD_BUILD_DIR: pathlib.Path = pathlib.Path(tempfile.gettempdir()) / "dockyard-builds"
    # The seed's retention: log lines after 30 days; deployments keep their row and metadata but
    # lose their stored logs and image after 90.
    DOCKYARD_DEPLOYMENT_LOG_RETENTION_DAYS: Annotated[float, Field(gt=0)] = 30.0
    DOCKYARD_DEPLOYMENT_RETENTION_DAYS: Annotated[float, Field(gt=0)] = 90.0
    DOCKYARD_RETENTION_INTERVAL_SECONDS: Annotated[float, Field(gt=0)] = 3600.0
    # How often Swarm is compared with the database (orphan services and images removed).
    DOCKYARD_RECONCILE_INTERVAL_SECONDS: Annotated[float, Field(gt=0)] = 60.0
