"""The deployer service. Deployments arrive with their issue; today it serves health, reflection and
its component status, which includes the Docker engine it will deploy onto."""

import pathlib

from dockyard.system.v1 import system_pb2
from dockyard_kit.config import load
from dockyard_kit.server import ServiceSpec, run
from services.deployer.engine import DockerEngine
from services.deployer.settings import DeployerSettings


def build_spec(engine: DockerEngine) -> ServiceSpec:
    async def docker_status() -> system_pb2.DockerStatus:
        status = await engine.status()
        return system_pb2.DockerStatus(
            available=status.available,
            version=status.version,
            swarm_active=status.swarm_active,
            error=status.error,
        )

    return ServiceSpec(
        name="deployer",
        migrations_dir=pathlib.Path(__file__).parent / "migrations",
        register=lambda server, runtime: None,
        settings=DeployerSettings,
        docker_status=docker_status,
    )


if __name__ == "__main__":
    run(build_spec(DockerEngine(load(DeployerSettings).DOCKER_HOST)))
