"""The projects service's consumer of the deployer's events: an application's status follows its
deployments, so lists and the application_stats view say what runs.

    queued      -> nothing (the application runs what it ran)
    started     -> deploying
    succeeded   -> running
    failed      -> failed
    cancelled   -> the status it had before the deployment started
    rolled_back -> running (the previous version runs again)

A success also records its commit as the git source's commit_sha (the latest deployed commit).
And deployer.application.scaled (a scale applied to the running service, without a deployment):
running when it runs replicas, stopped at 0 or when there is no service to scale.

Each change goes through applications.set_status (application_status's table, an
application.status_changed event). A change the table forbids, or an application already gone, is
acknowledged without effect: a later event is not held up behind it. The consumer's transaction
records the event in the inbox, so a redelivery applies once.
"""

import logging
import uuid

import asyncpg

from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.errors import FailedPrecondition, NotFound
from dockyard_kit.events import EventConsumer, event_type, subject_for
from dockyard_kit.server import ServiceRuntime
from services.projects.domain import applications, git_sources
from services.projects.domain.application_status import LIVE_STATUSES
from services.projects.store import applications as store
from services.projects.store.session import as_platform

log = logging.getLogger("dockyard.projects.deployer_events")

CONSUMER_NAME = "deployer"
# verb -> the status it leaves the application in (None: unchanged; cancelled is worked out).
STATUS_AFTER = {
    "queued": None,
    "started": "deploying",
    "succeeded": "running",
    "failed": "failed",
    "cancelled": None,
    "rolled_back": "running",
}
SCALED_TYPE = event_type("deployer", "application", "scaled")
SUBJECTS = [
    *(subject_for(event_type("deployer", "deployment", verb)) for verb in STATUS_AFTER),
    subject_for(SCALED_TYPE),
]
# Where the deployer records, when it starts a deployment, the status to go back to on cancel.
PREVIOUS_STATUS_KEY = "previous_application_status"


def status_after_cancel(deployment, current: str) -> str:
    """Back to what it was before the deployment started (running, if the previous version still
    runs): as the deployment's metadata says, else the current status, unless that is deploying,
    which no longer describes anything (failed, the safe answer)."""
    metadata = deployment.metadata
    previous = metadata[PREVIOUS_STATUS_KEY] if PREVIOUS_STATUS_KEY in metadata else None
    if previous in LIVE_STATUSES and previous != "deploying":
        return previous
    return "failed" if current == "deploying" else current


async def _new_status(
    conn: asyncpg.Connection, verb: str, application_id: uuid.UUID, deployment
) -> str | None:
    if verb != "cancelled":
        return STATUS_AFTER[verb]
    row = await store.fetch(conn, application_id)
    return None if row is None else status_after_cancel(deployment, row["status"])


def status_after_scale(scaled: deployer_events.ApplicationScaled) -> str:
    return "running" if scaled.has_service and scaled.replicas > 0 else "stopped"


def _application_id(text: str, event: Event) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        log.warning("deployer event names no application", extra={"event_id": event.id, "type": event.type})
        return None


async def _deployment_event(conn: asyncpg.Connection, event: Event) -> tuple[uuid.UUID | None, str | None]:
    changed = deployer_events.DeploymentChanged()
    event.payload.Unpack(changed)
    application_id = _application_id(changed.deployment.application_id, event)
    if application_id is None:
        return None, None
    verb = event.type.rsplit(".", 1)[1]
    deployment = changed.deployment
    if verb == "succeeded" and len(deployment.commit_sha) == 40:
        await git_sources.record_deployed_commit(
            conn, application_id, deployment.project_id, deployment.commit_sha, actor=event.actor_user_id
        )
    return application_id, await _new_status(conn, verb, application_id, deployment)


async def _scaled_event(conn: asyncpg.Connection, event: Event) -> tuple[uuid.UUID | None, str | None]:
    scaled = deployer_events.ApplicationScaled()
    event.payload.Unpack(scaled)
    application_id = _application_id(scaled.application_id, event)
    row = None if application_id is None else await store.fetch(conn, application_id)
    # Only a scale this service asked for (the application is scaling) moves it.
    if row is None or row["status"] != "scaling":
        return None, None
    return application_id, status_after_scale(scaled)


async def apply_deployer_event(conn: asyncpg.Connection, event: Event) -> None:
    """The consumer's handler, inside the transaction that records the event in the inbox."""
    await as_platform(conn)  # the service's own work, in any project
    handler = _scaled_event if event.type == SCALED_TYPE else _deployment_event
    application_id, new_status = await handler(conn, event)
    if new_status is None:
        return
    try:
        await applications.set_status(conn, application_id, new_status, actor=event.actor_user_id)
    except (FailedPrecondition, NotFound) as refused:
        log.info(
            "deployer event leaves the application as it is",
            extra={"event_id": event.id, "type": event.type, "reason": refused.message},
        )


async def consume_deployer_events(runtime: ServiceRuntime) -> None:
    """A background job: runs until cancelled."""
    consumer = EventConsumer(runtime.pool, runtime.nats, CONSUMER_NAME, SUBJECTS, apply_deployer_event)
    await consumer.run()
