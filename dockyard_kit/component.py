"""ComponentService: every service process reports its own view of its dependencies, which the
system status aggregates. Answers come from state the runtime already keeps fresh (the health
watcher), so a dead database makes this answer quickly rather than hang."""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc

from dockyard.system.v1 import system_pb2, system_pb2_grpc

if TYPE_CHECKING:
    from dockyard_kit.server import ServiceRuntime

COMPONENT_SERVICE = system_pb2.DESCRIPTOR.services_by_name["ComponentService"].full_name

DockerStatusSource = Callable[[], Awaitable[system_pb2.DockerStatus]]


class ComponentServicer(system_pb2_grpc.ComponentServiceServicer):
    def __init__(self, runtime: "ServiceRuntime", docker_status: DockerStatusSource | None = None) -> None:
        self.runtime = runtime
        self.docker_status = docker_status

    async def GetComponentStatus(self, request, context) -> system_pb2.ComponentStatus:
        database = self.runtime.database
        status = system_pb2.ComponentStatus(
            service=self.runtime.name,
            database_reachable=database.reachable,
            database_error=database.error,
            server_version=database.server_version,
            schema=system_pb2.SchemaStatus(
                name=self.runtime.name,
                # One line for both chains, e.g. "0005_api_token_names_reusable+kit:0001_kit_tables".
                migration_head=str(database.head_revision),
                current_revision=str(database.current_revision),
                at_head=database.at_head,
            ),
            nats=nats_status(self.runtime),
        )
        if self.docker_status is not None:
            status.docker.CopyFrom(await self.docker_status())
        return status


def nats_status(runtime: "ServiceRuntime") -> system_pb2.NatsStatus:
    link = runtime.nats
    return system_pb2.NatsStatus(
        connected=link.connected, stream=runtime.settings.DOCKYARD_EVENTS_STREAM, error=link.last_error or ""
    )


def add_component_service(
    server: grpc.aio.Server, runtime: "ServiceRuntime", docker_status: DockerStatusSource | None = None
) -> None:
    system_pb2_grpc.add_ComponentServiceServicer_to_server(ComponentServicer(runtime, docker_status), server)
