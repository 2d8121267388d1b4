"""The deployer's events, written to the outbox in the transaction of the change:
deployer.deployment.<verb> (queued, started, succeeded, failed, cancelled, rolled_back) with a
DeploymentChanged payload, and deployer.application.scaled (ApplicationScaled) once a scale reached
Swarm. A spec's env vars and registry password never reach one: the payload is
the deployment row, which holds neither."""

import asyncpg

from dockyard.deployer.v1 import events_pb2
from dockyard_kit.events import EventEmitter
from services.deployer import convert

VERBS = ("queued", "started", "succeeded", "failed", "cancelled", "rolled_back")
_emit = EventEmitter("deployer").emit


async def deployment_changed(
    conn: asyncpg.Connection, verb: str, row, application_name: str, *, actor: str
) -> None:
    payload = events_pb2.DeploymentChanged(
        deployment=convert.deployment(row), application_name=application_name
    )
    await _emit(conn, "deployment", verb, row["id"], payload, actor=actor)


async def application_scaled(
    conn: asyncpg.Connection, application_id, project_id, replicas: int, *, has_service: bool
) -> None:
    payload = events_pb2.ApplicationScaled(
        application_id=str(application_id),
        project_id=str(project_id),
        replicas=replicas,
        has_service=has_service,
    )
    await _emit(conn, "application", "scaled", application_id, payload, actor="")
