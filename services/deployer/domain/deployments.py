"""Deployments as callers see them: queue one, read them, cancel one, roll back. Workers
(domain/worker.py) carry them out. Access: domain/access.py."""

import json
import re
import uuid

import asyncpg

from dockyard_kit import pagination
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool, transaction
from dockyard_kit.errors import FailedPrecondition, InvalidArgument
from dockyard_kit.project_access import Level
from services.deployer.domain import events
from services.deployer.domain.access import authorize_application, authorize_deployment
from services.deployer.store import deployments as store
from services.deployer.store import logs as log_store
from services.deployer.store.notifications import CANCEL_CHANNEL, QUEUED_CHANNEL, notify

STATUSES = ("pending", "building", "deploying", "success", "failed", "rolled_back")
MAX_REQUEST_ID = 100
# A git branch, tag or commit: what `git check-ref-format` allows, minus what could read as an option.
_GIT_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/+-]{1,255}(?<!\.lock)(?<![/.])")


def validate_request_id(request_id: str) -> str | None:
    if not request_id:
        return None
    if len(request_id) > MAX_REQUEST_ID or not request_id.isprintable():
        raise InvalidArgument("request_id", f"must be at most {MAX_REQUEST_ID} printable characters")
    return request_id


def validate_git_ref(git_ref: str) -> str | None:
    if not git_ref:
        return None
    if not _GIT_REF.fullmatch(git_ref):
        raise InvalidArgument("git_ref", "must be a branch, tag or commit (letters, digits, . _ / + -)")
    return git_ref


def validate_status_filter(status: str) -> str | None:
    if status and status not in STATUSES:
        raise InvalidArgument("status", f"must be one of {', '.join(STATUSES)}")
    return status or None


async def queue(
    conn: asyncpg.Connection,
    application,
    *,
    triggered_by: str,
    request_id: str | None,
    git_ref: str | None = None,
    rollback_to=None,
    trigger: str,
):
    """A pending deployment of `application` (a read-model row with its project), or the one queued
    earlier with the same request_id, inside the caller's transaction."""
    application_id = application["application_id"]
    if request_id is not None:
        earlier = await store.by_request_id(conn, application_id, request_id)
        if earlier is not None:
            return earlier
    metadata = {"trigger": trigger, "previous_application_status": application["application_status"]}
    if git_ref is not None:
        metadata["git_ref"] = git_ref
    if rollback_to is not None:
        metadata["rollback_to"] = str(rollback_to["id"])
        metadata["image"] = rollback_to_image(rollback_to)
    row = await store.insert(
        conn,
        application_id=application_id,
        project_id=application["id"],
        triggered_by=uuid.UUID(triggered_by) if triggered_by else None,
        request_id=request_id,
        git_ref=git_ref if rollback_to is None else None,
        rollback_to=rollback_to["id"] if rollback_to is not None else None,
        metadata=metadata,
    )
    if row is None:  # the same request_id, committed meanwhile
        return await store.by_request_id(conn, application_id, request_id)
    await events.deployment_changed(conn, "queued", row, application["name"], actor=triggered_by)
    await notify(conn, QUEUED_CHANNEL)
    return row


def rollback_to_image(deployment) -> str:
    """What a rollback runs: the image by digest (or id) the earlier deployment ran."""
    metadata = json.loads(deployment["metadata"])
    return metadata.get("image_digest") or metadata.get("image_id") or metadata["image"]


def _require_live(application) -> None:
    if application["application_status"] == "archived":
        raise FailedPrecondition("the application is archived; restore it before deploying")


async def create_deployment(
    pool: asyncpg.Pool, swarm, caller: Caller, application_id: uuid.UUID, *, git_ref: str, request_id: str
):
    git_ref, request_id = validate_git_ref(git_ref), validate_request_id(request_id)
    async with transaction(pool) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, action="deploying", wait_for_new=True
        )
        _require_live(application)
        await swarm.require_manager()
        return await queue(
            conn,
            application,
            triggered_by=caller.user_id,
            request_id=request_id,
            git_ref=git_ref,
            trigger="api",
        )


async def rollback_application(
    pool: asyncpg.Pool, swarm, caller: Caller, application_id: uuid.UUID, *, deployment_id, request_id: str
):
    request_id = validate_request_id(request_id)
    async with transaction(pool) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, action="rolling back"
        )
        _require_live(application)
        if deployment_id is not None:
            target = await store.fetch(conn, deployment_id)
            if target is None or target["application_id"] != application_id:
                raise InvalidArgument("deployment_id", f"names no deployment of application {application_id}")
            if target["status"] != "success":
                raise FailedPrecondition(f"deployment {deployment_id} did not succeed ({target['status']})")
        else:
            successes = await store.successful(conn, application_id, limit=2)
            if len(successes) < 2:
                raise FailedPrecondition(
                    "the application has no earlier successful deployment to roll back to"
                )
            target = successes[1]
        kept = json.loads(target["metadata"])
        if "archived_at" in kept or kept.get("image_pruned"):
            raise FailedPrecondition(
                f"deployment {target['id']}'s image is no longer kept (past retention, or older than the"
                " images kept per application)"
            )
        await swarm.require_manager()
        return await queue(
            conn,
            application,
            triggered_by=caller.user_id,
            request_id=request_id,
            rollback_to=target,
            trigger="rollback",
        )


async def get_deployment(pool: SessionPool | asyncpg.Pool, caller: Caller, deployment_id: uuid.UUID):
    async with pool.acquire() as conn:
        deployment, _ = await authorize_deployment(conn, caller, deployment_id, Level.READ, action="reading")
        return deployment


async def list_deployments(
    pool: asyncpg.Pool,
    caller: Caller,
    application_id: uuid.UUID,
    *,
    page_size: int,
    page_token: str,
    status: str,
):
    status_filter = validate_status_filter(status)
    page = pagination.parse_page(
        page_size,
        page_token,
        {"list": "deployments", "application_id": str(application_id), "status": status},
    )
    async with pool.acquire() as conn:
        await authorize_application(conn, caller, application_id, Level.READ, action="reading")
        rows = await store.list_page(
            conn,
            application_id,
            status=status_filter,
            after=page.newest_first_after,
            limit=page.fetch_limit,
        )
    return pagination.split_page(rows, page, lambda row: pagination.newest_first_key(row, "started_at"))


async def cancel_deployment(pool: asyncpg.Pool, caller: Caller, deployment_id: uuid.UUID):
    """A pending deployment ends failed ("cancelled") at once; a running one is asked to stop (its
    worker sees it within a heartbeat), and comes back still running."""
    async with transaction(pool) as conn:
        deployment, application = await authorize_deployment(
            conn, caller, deployment_id, Level.WRITE, action="cancelling", lock=True
        )
        if deployment["status"] not in store.UNFINISHED:
            raise FailedPrecondition(f"deployment {deployment_id} has already ended ({deployment['status']})")
        if deployment["status"] == "pending":
            row = await store.move(
                conn,
                deployment_id,
                "failed",
                metadata={"reason": "cancelled", "cancelled_by": caller.user_id},
            )
            await events.deployment_changed(conn, "cancelled", row, application["name"], actor=caller.user_id)
            return row
        row = await store.request_cancel(conn, deployment_id, uuid.UUID(caller.user_id))
        await notify(conn, CANCEL_CHANNEL, str(deployment_id))
        return row


def levels_from(level: str) -> tuple[str, ...]:
    """The levels at and above `level` ("" means all)."""
    if not level:
        return log_store.LEVELS
    if level not in log_store.LEVELS:
        raise InvalidArgument("level", f"must be one of {', '.join(log_store.LEVELS)}")
    return log_store.LEVELS[log_store.LEVELS.index(level) :]


async def list_logs(
    pool, caller: Caller, deployment_id: uuid.UUID, *, page_size: int, page_token: str, level: str
):
    levels = levels_from(level)
    page = pagination.parse_page(
        page_size,
        page_token,
        {"list": "deployment_logs", "deployment_id": str(deployment_id), "level": level},
    )
    after_id = 0
    if page.after is not None:
        if not page.after.isdigit():
            raise InvalidArgument("page_token", "is not a page token this service issued")
        after_id = int(page.after)
    async with pool.acquire() as conn:
        await authorize_deployment(conn, caller, deployment_id, Level.READ, action="reading")
        rows = await log_store.after(conn, deployment_id, after_id, levels, page.fetch_limit)
    return pagination.split_page(rows, page, lambda row: str(row["id"]))


# A follower re-reads at least this often even without a notification.
FOLLOW_POLL_SECONDS = 1.0
FOLLOW_BATCH = 500


async def follow_logs(
    pool, notifications, caller: Caller, deployment_id: uuid.UUID, *, after_id: int, level: str
):
    """The stored lines after `after_id`, then each new one, in id order; ends once the deployment
    has ended and every line was given. The deployment's last line is written before its final status
    commits, so lines read after seeing it ended are all there are."""
    levels = levels_from(level)
    if after_id < 0:
        raise InvalidArgument("after_id", "must be 0 or a line id")
    async with pool.acquire() as conn:
        await authorize_deployment(conn, caller, deployment_id, Level.READ, action="reading")
    with notifications.subscribe(log_store.NOTIFY_CHANNEL, str(deployment_id)) as subscription:
        while True:
            async with pool.acquire() as conn:
                ended = await conn.fetchval(
                    "SELECT completed_at IS NOT NULL FROM deployments WHERE id = $1", deployment_id
                )
                rows = await log_store.after(conn, deployment_id, after_id, levels, FOLLOW_BATCH)
            for row in rows:
                yield row
                after_id = row["id"]
            if len(rows) == FOLLOW_BATCH:
                continue
            if ended is None or (ended and not rows):
                return
            await subscription.wait(FOLLOW_POLL_SECONDS)
