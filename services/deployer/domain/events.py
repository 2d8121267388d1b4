"""The deployer's events, written to the outbox in the transaction of the change:
deployer.deployment.<verb> (queued, started, succeeded, failed, cancelled, rolled_back) with a
DeploymentChanged payload. A spec's env vars and registry password never reach one: the payload is
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
