"""The service's consumer of projects' and the deployer's events, in stream order (one at a time):
projects' keep the read models (projects with their team and name, certificates), and each
deployment that succeeded, failed or was rolled back becomes one delivery per enabled channel
subscribed to it (the project's, and its team's), inserted in the transaction that records the
event in the inbox. A redelivered event is skipped by the inbox, and UNIQUE (channel_id,
dedupe_key) with the event's id as the key would refuse its second delivery anyway: one event is
never delivered twice to one channel."""

import datetime
import uuid
from collections.abc import Callable

import asyncpg

from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.events.v1.envelope_pb2 import Event
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard_kit import identity_read_model, projects_read_model
from dockyard_kit.events import EventConsumer, event_type, subject_for
from dockyard_kit.server import ServiceRuntime
from services.notifications.domain import messages
from services.notifications.store import channels as channel_store
from services.notifications.store import deliveries as delivery_store
from services.notifications.store import read_model

PROJECT_VERBS = {
    "project": ("created", "updated", "deleted"),
    "certificate": ("created", "updated", "deleted"),
}
SUBJECTS = [
    *(subject_for(event_type("projects", resource, verb)) for resource, verbs in PROJECT_VERBS.items() for verb in verbs),
    *(subject_for(deployment_type) for deployment_type in messages.DEPLOYMENT_EVENTS),
]  # fmt: skip


def _optional_uuid(value: str) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


async def _project_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
    project_id = uuid.UUID(event.resource_id)
    if verb == "deleted":
        await read_model.delete_project(conn, project_id)
        return
    changed = projects_events.ProjectChanged()
    event.payload.Unpack(changed)
    project = changed.project
    await projects_read_model.upsert_project(
        conn, project_id, uuid.UUID(project.owner_id), _optional_uuid(project.team_id)
    )
    await read_model.set_project_name(conn, project_id, project.name)


async def _certificate_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
    certificate_id = uuid.UUID(event.resource_id)
    if verb == "deleted":
        await read_model.delete_certificate(conn, certificate_id)
        return
    changed = projects_events.CertificateChanged()
    event.payload.Unpack(changed)
    certificate = changed.certificate
    await read_model.upsert_certificate(
        conn,
        certificate_id,
        uuid.UUID(certificate.project_id),
        uuid.UUID(certificate.domain_id),
        certificate.domain,
        certificate.expires_at.ToDatetime(tzinfo=datetime.UTC),
    )


def deployment_facts(event: Event, project_name: str | None) -> messages.DeploymentFacts:
    changed = deployer_events.DeploymentChanged()
    event.payload.Unpack(changed)
    deployment = changed.deployment
    metadata = deployment.metadata
    return messages.DeploymentFacts(
        event_id=event.id,
        event=messages.DEPLOYMENT_EVENTS[event.type],
        occurred_at=event.occurred_at.ToDatetime(tzinfo=datetime.UTC),
        project_id=deployment.project_id,
        project_name=project_name,
        application_id=deployment.application_id,
        application_name=changed.application_name,
        deployment_id=deployment.id,
        status=deployment.status,
        reason=metadata["reason"] if "reason" in metadata else "",
        commit_sha=deployment.commit_sha,
        image=metadata["image"] if "image" in metadata else "",
        triggered_by=deployment.triggered_by,
    )


async def _deployment_event(conn: asyncpg.Connection, event: Event) -> int:
    """How many deliveries the deployment's outcome made."""
    changed = deployer_events.DeploymentChanged()
    event.payload.Unpack(changed)
    project_id = uuid.UUID(changed.deployment.project_id)
    notification = messages.deployment_notification(
        deployment_facts(event, await read_model.project_name(conn, project_id))
    )
    team_id = await read_model.project_team(conn, project_id)
    channel_ids = await channel_store.reached_by(conn, project_id, team_id, notification.event)
    return await delivery_store.insert_for_channels(
        conn, channel_ids, notification.event, event.id, notification.payload, notification.summary
    )


async def apply(conn: asyncpg.Connection, event: Event) -> int:
    """The event's effect; how many deliveries it made."""
    if event.type in messages.DEPLOYMENT_EVENTS:
        return await _deployment_event(conn, event)
    _, resource, verb = event.type.split(".")
    if resource == "project":
        await _project_event(conn, verb, event)
    else:
        await _certificate_event(conn, verb, event)
    return 0


def consumer(runtime: ServiceRuntime, wake: Callable[[], None]) -> EventConsumer:
    """`wake` runs once an event's deliveries have committed (this replica's dispatcher sends them
    at once rather than at its next poll); an event that made none (most deployments have no
    channel) wakes nothing."""
    # Ids of events whose deliveries are in the transaction being committed.
    made_deliveries: set[str] = set()

    async def apply_and_note(conn: asyncpg.Connection, event: Event) -> None:
        if await apply(conn, event):
            made_deliveries.add(event.id)

    def after_commit(event: Event) -> None:
        if event.id in made_deliveries:
            made_deliveries.discard(event.id)
            wake()

    return EventConsumer(
        runtime.pool, runtime.nats, "events", SUBJECTS, apply_and_note, after_commit=after_commit
    )


def identity_consumer(runtime: ServiceRuntime) -> EventConsumer:
    """Users' roles and team memberships; a deleted team takes its channels with it."""
    return identity_read_model.consumer(runtime, "identity", on_team_deleted=read_model.delete_team_channels)
