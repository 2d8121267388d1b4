"""The seed's retention, run on a schedule in bounded batches: log lines older than the log
retention (30 days) are deleted; deployments older than the deployment retention (90 days) keep
their row and metadata but lose their summary, their stored lines and the image built for them."""

import asyncio
import datetime
import json
import logging

import asyncpg

from dockyard_kit.db import transaction
from dockyard_kit.errors import DomainError
from services.deployer.docker.swarm import Swarm
from services.deployer.store import deployments as deployment_store
from services.deployer.store import logs as log_store

log = logging.getLogger("dockyard.deployer.retention")
BATCH = 1000


async def expire_logs(pool: asyncpg.Pool, age: datetime.timedelta) -> int:
    removed = 0
    while True:
        async with transaction(pool) as conn:
            count = await log_store.delete_older_than(conn, age, BATCH)
        removed += count
        if count < BATCH:
            return removed
        await asyncio.sleep(0)  # other work between batches


async def archive_deployments(pool: asyncpg.Pool, swarm: Swarm, age: datetime.timedelta) -> int:
    archived = 0
    while True:
        async with transaction(pool) as conn:
            rows = await deployment_store.expired_for_logs(conn, age, BATCH // 10)
            for row in rows:
                metadata = json.loads(row["metadata"])
                if metadata.get("built") and not metadata.get("image_pruned"):
                    try:
                        await swarm.remove_image(metadata["image_id"])  # with all its tags
                    except DomainError as exc:
                        log.warning("cannot remove an expired image", extra={"error": exc.message})
                await log_store.delete_for_deployment(conn, row["id"])
                await deployment_store.mark_archived(conn, row["id"])
        archived += len(rows)
        if len(rows) < BATCH // 10:
            return archived


async def run_retention(
    pool_source, swarm: Swarm, *, log_days: float, deployment_days: float, interval: float
):
    while True:
        try:
            pool = pool_source()
            lines = await expire_logs(pool, datetime.timedelta(days=log_days))
            deployments = await archive_deployments(pool, swarm, datetime.timedelta(days=deployment_days))
            if lines or deployments:
                log.info("retention", extra={"log_lines_deleted": lines, "deployments_archived": deployments})
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("retention failed; retrying later", extra={"error": str(exc)})
        await asyncio.sleep(interval)
