"""The deployer's consumers of other services' events: identity's (users' roles and team memberships,
through the kit's read model; a deleted user leaves their deployments with triggered_by NULL, the
seed's SET NULL) and projects' (projects and applications, the seed's APPLICATION -> DEPLOYMENT
CASCADE on purge). Docker follows after commit: the reconciler is asked to bring the application's
service in line (scaled, stopped, removed), and re-checks everything periodically, so an effect a
crash interrupted is applied on the next pass."""

import uuid

import asyncpg

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard_kit import identity_read_model, projects_read_model
from dockyard_kit.events import EventConsumer, event_type, subject_for
from dockyard_kit.server import ServiceRuntime
from services.deployer.domain.reconciler import Reconciler
from services.deployer.store import deployments as deployment_store
from services.deployer.store import read_model

PROJECT_VERBS = {
    "project": ("created", "updated", "deleted"),
    "application": ("created", "updated", "scaled", "status_changed", "archived", "restored", "deleted"),
}
PROJECT_SUBJECTS = [
    subject_for(event_type("projects", resource, verb))
    for resource, verbs in PROJECT_VERBS.items()
    for verb in verbs
]


async def apply_projects_event(conn: asyncpg.Connection, event: Event) -> None:
    _, resource, verb = event.type.split(".")
    if resource == "project":
        project_id = uuid.UUID(event.resource_id)
        if verb == "deleted":
            # Its applications' own deleted events come first (projects' cascade); this is the rest.
            for application_id in await read_model.delete_project(conn, project_id):
                await deployment_store.delete_for_application(conn, application_id)
            return
        changed = projects_events.ProjectChanged()
        event.payload.Unpack(changed)
        project = changed.project
        team_id = uuid.UUID(project.team_id) if project.team_id else None
        await projects_read_model.upsert_project(conn, project_id, uuid.UUID(project.owner_id), team_id)
        return
    changed = projects_events.ApplicationChanged()
    event.payload.Unpack(changed)
    application = changed.application
    application_id = uuid.UUID(event.resource_id)
    if verb == "deleted":
        await deployment_store.delete_for_application(conn, application_id)
        await read_model.delete_application(conn, application_id)
        return
    await read_model.upsert_application(
        conn,
        application_id,
        uuid.UUID(application.project_id),
        application.name,
        application.status,
        application.replicas,
    )


def projects_consumer(runtime: ServiceRuntime, reconciler: Reconciler) -> EventConsumer:
    def follow_in_docker(event: Event) -> None:
        if event.resource_type == "application":
            reconciler.request(event.resource_id, scaled=event.type.endswith(".scaled"))
        elif event.type == "projects.project.deleted":
            reconciler.request_project_gone(event.resource_id)

    return EventConsumer(
        runtime.pool,
        runtime.nats,
        "projects",
        PROJECT_SUBJECTS,
        apply_projects_event,
        after_commit=follow_in_docker,
    )


def identity_consumer(runtime: ServiceRuntime) -> EventConsumer:
    return identity_read_model.consumer(runtime, "identity", on_user_deleted=deployment_store.forget_user)
