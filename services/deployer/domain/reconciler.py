"""Swarm brought in line with the database, at start-up, periodically, and for one application as
soon as projects' events change it: a service whose application is archived, purged or unknown is
removed, and so is the network of a project that is gone; a service whose replicas differ from the
application's (a scale, a stop at 0, a start) is scaled, unless a deployment of it is running (that deployment applies them); images this platform
built for a deployment that no longer exists or did not succeed are removed."""

import asyncio
import json
import logging
import uuid

import asyncpg

from dockyard_kit.db import transaction
from dockyard_kit.errors import DomainError
from services.deployer.docker.swarm import LABEL_DEPLOYMENT, Swarm
from services.deployer.domain import events
from services.deployer.store import deployments as deployment_store
from services.deployer.store import read_model

log = logging.getLogger("dockyard.deployer.reconciler")
# How soon a gone project's network is tried again while its last tasks stop.
NETWORK_RETRY_SECONDS = 2.0


class Reconciler:
    def __init__(self, pool_source, swarm: Swarm, interval: float) -> None:
        self._pool_source = pool_source
        self.swarm = swarm
        self.interval = interval
        # application id -> whether projects asked for a scale (answered by deployer.application.scaled)
        self._requested: dict[str, bool] = {}
        self._gone_projects: set[str] = set()
        self._wake = asyncio.Event()

    def request(self, application_id: str, *, scaled: bool = False) -> None:
        """Reconcile this application soon (callable from an event's after-commit hook); `scaled`:
        projects asked for a scale, so say when it is applied, or that there is nothing to scale."""
        self._requested[application_id] = self._requested.get(application_id, False) or scaled
        self._wake.set()

    def request_project_gone(self, project_id: str) -> None:
        """Remove the project's network soon (once its applications' services are gone)."""
        self._gone_projects.add(project_id)
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile_all()
            except (DomainError, OSError, asyncpg.PostgresError) as exc:
                log.warning("reconciling failed; retrying later", extra={"error": str(exc)})
            try:
                async with asyncio.timeout(self.interval):
                    while True:
                        await self._wake.wait()
                        self._wake.clear()
                        requested, self._requested = self._requested, {}
                        await self._reconcile_requested(requested)
                        await self._remove_gone_networks()
            except TimeoutError:
                pass
            except (DomainError, OSError, asyncpg.PostgresError) as exc:
                log.warning("reconciling an application failed", extra={"error": str(exc)})

    async def _reconcile_requested(self, requested: dict[str, bool]) -> None:
        """The applications asked for since the last wake: one application's service is looked up
        alone; for several, the platform's services are listed once, so a burst of projects' events
        costs one Docker call rather than one per event."""
        if not requested:
            return
        if len(requested) == 1:
            [application_id] = requested
            found = {application_id: await self.swarm.inspect(application_id)}
        else:
            found = {service.application_id: service for service in await self.swarm.managed_services()}
        for application_id, scaled in requested.items():
            service = found.get(application_id)
            if service is not None:
                await self._converge(service, report=scaled)
            elif scaled:
                await self._report_scaled(uuid.UUID(application_id), 0, has_service=False)

    async def reconcile_all(self) -> None:
        for service in await self.swarm.managed_services():
            await self._converge(service)
        await self._remove_orphan_networks()
        await self._remove_orphan_images()

    async def _remove_gone_networks(self) -> None:
        gone, self._gone_projects = self._gone_projects, set()
        for project_id in gone:
            try:
                await self.swarm.remove_network(project_id)
            except DomainError:
                # Its services' tasks are still stopping: again shortly.
                self._gone_projects.add(project_id)
        if self._gone_projects:
            asyncio.get_running_loop().call_later(NETWORK_RETRY_SECONDS, self._wake.set)

    async def _remove_orphan_networks(self) -> None:
        """The networks of projects that are gone (once nothing runs on them)."""
        for project_id in await self.swarm.managed_network_projects():
            async with self._pool_source().acquire() as conn:
                known = await read_model.project_exists(conn, uuid.UUID(project_id))
            if not known:
                try:
                    await self.swarm.remove_network(project_id)
                except DomainError as exc:  # still in use: the next pass tries again
                    log.info("a gone project's network is still in use", extra={"error": exc.message})

    async def _converge(self, service, *, report: bool = False) -> None:
        application_id = uuid.UUID(service.application_id)
        async with self._pool_source().acquire() as conn:
            application = await read_model.application(conn, application_id)
            running = await deployment_store.running_count(conn, application_id)
        if application is None or application["status"] == "archived":
            log.info(
                "removing a service whose application is gone", extra={"application_id": str(application_id)}
            )
            await self.swarm.remove_service(service.application_id)
            return
        if running:
            return  # the running deployment applies the application's replicas
        if service.replicas != application["replicas"]:
            await self.swarm.scale(service.application_id, application["replicas"])
            report = True
        if report:
            await self._report_scaled(application_id, application["replicas"], has_service=True)

    async def _report_scaled(self, application_id: uuid.UUID, replicas: int, *, has_service: bool) -> None:
        async with transaction(self._pool_source()) as conn:
            application = await read_model.application(conn, application_id)
            if application is not None:
                await events.application_scaled(
                    conn, application_id, application["project_id"], replicas, has_service=has_service
                )

    async def _remove_orphan_images(self) -> None:
        pool = self._pool_source()
        for image_id, labels in await self.swarm.managed_images():
            deployment_id = labels.get(LABEL_DEPLOYMENT)
            if not deployment_id:
                continue
            async with pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT status, metadata FROM deployments WHERE id = $1", uuid.UUID(deployment_id)
                )
            if row is None or row["status"] == "failed" or json.loads(row["metadata"]).get("image_pruned"):
                await self.swarm.remove_image(image_id)
