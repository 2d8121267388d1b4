"""Swarm brought in line with the database, at start-up, periodically, and for one application as
soon as projects' events change it: a service whose application is archived, purged or unknown is
removed; a service whose replicas differ from the application's (a scale, a stop at 0, a start) is
scaled, unless a deployment of it is running (that deployment applies them); images this platform
built for a deployment that no longer exists or did not succeed are removed."""

import asyncio
import json
import logging
import uuid

import asyncpg

from dockyard_kit.errors import DomainError
from services.deployer.docker.swarm import LABEL_DEPLOYMENT, Swarm
from services.deployer.store import read_model

log = logging.getLogger("dockyard.deployer.reconciler")


class Reconciler:
    def __init__(self, pool_source, swarm: Swarm, interval: float) -> None:
        self._pool_source = pool_source
        self.swarm = swarm
        self.interval = interval
        self._requested: set[str] = set()
        self._wake = asyncio.Event()

    def request(self, application_id: str) -> None:
        """Reconcile this application soon (callable from an event's after-commit hook)."""
        self._requested.add(application_id)
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
                        requested, self._requested = self._requested, set()
                        for application_id in requested:
                            await self._reconcile_one(application_id)
            except TimeoutError:
                pass
            except (DomainError, OSError, asyncpg.PostgresError) as exc:
                log.warning("reconciling an application failed", extra={"error": str(exc)})

    async def _reconcile_one(self, application_id: str) -> None:
        service = await self.swarm.inspect(application_id)
        if service is not None:
            await self._converge(service)

    async def reconcile_all(self) -> None:
        for service in await self.swarm.managed_services():
            await self._converge(service)
        await self._remove_orphan_images()

    async def _converge(self, service) -> None:
        pool = self._pool_source()
        async with pool.acquire() as conn:
            application = await read_model.application(conn, uuid.UUID(service.application_id))
            running = await conn.fetchval(
                "SELECT count(*) FROM deployments WHERE application_id = $1 AND status IN ('building', 'deploying')",
                uuid.UUID(service.application_id),
            )
        if application is None or application["status"] == "archived":
            log.info(
                "removing a service whose application is gone",
                extra={"application_id": service.application_id},
            )
            await self.swarm.remove_service(service.application_id)
        elif not running and service.replicas != application["replicas"]:
            await self.swarm.scale(service.application_id, application["replicas"])

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
