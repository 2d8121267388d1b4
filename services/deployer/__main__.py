"""The deployer service: deployments of applications onto Docker Swarm (a durable queue in
PostgreSQL, workers holding leases, live logs, cancel, rollback, crash recovery), git push
webhooks, the reconciler that keeps Swarm in line with the database, and retention. Its component
status includes the Docker engine it deploys onto."""

import pathlib

import asyncpg
import grpc

from dockyard.deployer.v1 import deployer_pb2_grpc
from dockyard.system.v1 import system_pb2
from dockyard_kit import db
from dockyard_kit.config import load
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from dockyard_kit.service_auth import ServiceCredentials
from services.deployer.docker.swarm import Swarm
from services.deployer.domain.reconciler import Reconciler
from services.deployer.domain.retention import run_retention
from services.deployer.domain.upstream_events import identity_consumer, projects_consumer
from services.deployer.domain.worker import Pipeline, PipelineSettings
from services.deployer.engine import DockerEngine
from services.deployer.rpc.deployments import DeploymentServicer
from services.deployer.rpc.webhooks import WebhookServicer
from services.deployer.settings import DeployerSettings
from services.deployer.store import logs as log_store
from services.deployer.store import read_model
from services.deployer.store.deploy_specs import DeploySpecs
from services.deployer.store.notifications import CANCEL_CHANNEL, QUEUED_CHANNEL, Notifications


class Deployer:
    """What the deployer's servicers and background jobs share besides the runtime."""

    def __init__(self, settings: DeployerSettings) -> None:
        self.settings = settings
        self.engine = DockerEngine(settings.DOCKER_HOST)
        self.swarm = Swarm(self.engine)
        self.notifications: Notifications | None = None
        self.specs: DeploySpecs | None = None
        self.reconciler: Reconciler | None = None

    def register(self, server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        settings = self.settings

        async def listening_connection() -> asyncpg.Connection:
            return await asyncpg.connect(**db.service_connection(settings, "deployer"))

        self.notifications = Notifications(
            listening_connection, (log_store.NOTIFY_CHANNEL, QUEUED_CHANNEL, CANCEL_CHANNEL)
        )
        self.specs = DeploySpecs(settings.service_address("projects"), ServiceCredentials.of(runtime.secrets))
        self.reconciler = Reconciler(
            runtime.require_pool, self.swarm, settings.DOCKYARD_RECONCILE_INTERVAL_SECONDS
        )
        deployer_pb2_grpc.add_DeploymentServiceServicer_to_server(
            DeploymentServicer(runtime, self.swarm, self.notifications), server
        )
        deployer_pb2_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(runtime, self.specs), server)

    async def report_status(self, component: system_pb2.ComponentStatus) -> None:
        status = await self.engine.status()
        component.docker.CopyFrom(
            system_pb2.DockerStatus(
                available=status.available,
                version=status.version,
                swarm_active=status.swarm_active,
                error=status.error,
            )
        )

    async def _know_installation(self, runtime: ServiceRuntime) -> None:
        """Before the first job that makes or lists Swarm objects: whose they are."""
        if self.swarm.installation is None:
            async with runtime.require_pool().acquire() as conn:
                self.swarm.installation = await read_model.installation_id(conn)

    async def listen(self, runtime: ServiceRuntime) -> None:
        await self.notifications.run()

    async def work(self, runtime: ServiceRuntime) -> None:
        await self._know_installation(runtime)
        settings = self.settings
        pipeline = Pipeline(
            runtime.require_pool(),
            self.swarm,
            self.specs,
            self.notifications,
            PipelineSettings(
                max_active=settings.DOCKYARD_DEPLOY_CONCURRENCY,
                lease_seconds=settings.DOCKYARD_DEPLOY_LEASE_SECONDS,
                build_timeout=settings.DOCKYARD_BUILD_TIMEOUT_SECONDS,
                rollout_timeout=settings.DOCKYARD_ROLLOUT_TIMEOUT_SECONDS,
                monitor_seconds=settings.DOCKYARD_ROLLOUT_MONITOR_SECONDS,
                keep_images=settings.DOCKYARD_KEEP_IMAGES,
                registry=settings.DOCKYARD_REGISTRY,
                workdir=settings.DOCKYARD_BUILD_DIR,
            ),
        )
        await pipeline.run()

    async def reconcile(self, runtime: ServiceRuntime) -> None:
        await self._know_installation(runtime)
        await self.reconciler.run()

    async def consume_projects(self, runtime: ServiceRuntime) -> None:
        await projects_consumer(runtime, self.reconciler).run()

    async def consume_identity(self, runtime: ServiceRuntime) -> None:
        await identity_consumer(runtime).run()

    async def retain(self, runtime: ServiceRuntime) -> None:
        await self._know_installation(runtime)
        settings = self.settings
        await run_retention(
            runtime.require_pool,
            self.swarm,
            log_days=settings.DOCKYARD_DEPLOYMENT_LOG_RETENTION_DAYS,
            deployment_days=settings.DOCKYARD_DEPLOYMENT_RETENTION_DAYS,
            interval=settings.DOCKYARD_RETENTION_INTERVAL_SECONDS,
        )


def build_spec(deployer: Deployer) -> ServiceSpec:
    return ServiceSpec(
        name="deployer",
        migrations_dir=pathlib.Path(__file__).parent / "migrations",
        register=deployer.register,
        settings=DeployerSettings,
        background=[
            deployer.listen,
            deployer.consume_identity,
            deployer.consume_projects,
            deployer.work,
            deployer.reconcile,
            deployer.retain,
        ],
        report_status=deployer.report_status,
    )


if __name__ == "__main__":
    run(build_spec(Deployer(load(DeployerSettings))))
