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

# A service's own part of its status (the deployer's Docker engine, audit's partitions), filled in
# the answer it is given.
StatusReporter = Callable[[system_pb2.ComponentStatus], Awaitable[None]]


class ComponentServicer(system_pb2_grpc.ComponentServiceServicer):
    def __init__(self, runtime: "ServiceRuntime", report: StatusReporter | None = None) -> None:
        self.runtime = runtime
        self.report = report

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
        if self.report is not None:
            await self.report(status)
        return status


def nats_status(runtime: "ServiceRuntime") -> system_pb2.NatsStatus:
    link = runtime.nats
    return system_pb2.NatsStatus(
        connected=link.connected, stream=runtime.settings.DOCKYARD_EVENTS_STREAM, error=link.last_error or ""
    )


def add_component_service(
    server: grpc.aio.Server, runtime: "ServiceRuntime", report: StatusReporter | None = None
) -> None:
    system_pb2_grpc.add_ComponentServiceServicer_to_server(ComponentServicer(runtime, report), server)
