"""Settings only the deployer reads."""

from dockyard_kit.config import Settings


class DeployerSettings(Settings):
    # The Docker engine to deploy onto (a DOCKER_HOST-style URL); unset: the environment's default.
    DOCKER_HOST: str | None = None
