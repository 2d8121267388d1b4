"""The platform's status page, assembled from every service's component status and health.

`summarize` is the pure part (what the page says, given what each service answered); `Peers` asks
the services, each call bounded by a short deadline so a dead service shows up as UNREACHABLE
instead of stalling the page. ComponentService is internal: identity calls it with its own service
credential (dockyard_kit/service_auth.py).
"""

import asyncio
import dataclasses

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit.config import Settings
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.service_auth import ServiceCredentials

PEER_DEADLINE_SECONDS = 1.5


@dataclasses.dataclass(frozen=True)
class PeerReport:
    service: str
    health: str  # SERVING, NOT_SERVING or UNREACHABLE
    component: system_pb2.ComponentStatus | None


def summarize(
    reports: list[PeerReport], *, database_configured: bool, stream: str
) -> system_pb2.SystemStatus:
    components = [r.component for r in reports if r.component is not None]
    reachable_db = [c for c in components if c.database_reachable]
    schemas = [c.schema for c in components]
    database = system_pb2.DatabaseStatus(
        configured=database_configured,
        dialect="postgresql",
        server_version=reachable_db[0].server_version if reachable_db else "",
        schemas=schemas,
        # Initialized: every service answered, reached the database, and its schema is at head.
        initialized=len(components) == len(reports)
        and all(c.database_reachable and c.schema.at_head for c in components),
    )
    unreachable = [c for c in components if not c.database_reachable]
    if unreachable or not components:
        database.error = next(
            (c.database_error for c in unreachable if c.database_error), "no service reached it"
        )
    nats_views = [c.nats for c in components]
    nats = system_pb2.NatsStatus(
        stream=stream,
        connected=bool(nats_views) and all(view.connected for view in nats_views),
        error=next((view.error for view in nats_views if view.error), ""),
    )
    docker = next(
        (c.docker for c in components if c.HasField("docker")),
        system_pb2.DockerStatus(available=False, error="the deployer did not answer"),
    )
    status = system_pb2.SystemStatus(
        database=database,
        nats=nats,
        docker=docker,
        services=[system_pb2.ServiceHealth(name=r.service, status=r.health) for r in reports],
    )
    status.checked_at.GetCurrentTime()
    return status


class Peers:
    """gRPC channels to every service (this one included), opened once and reused."""

    def __init__(self, settings: Settings) -> None:
        self.channels = {
            name: grpc.aio.insecure_channel(settings.service_address(name)) for name in SERVICE_NAMES
        }
        self.credentials = ServiceCredentials.from_settings(settings, "identity")

    async def report(self, service: str) -> PeerReport:
        channel = self.channels[service]
        try:
            check = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=PEER_DEADLINE_SECONDS
            )
            component = system_pb2_grpc.ComponentServiceStub(channel).GetComponentStatus(
                system_pb2.GetComponentStatusRequest(),
                metadata=self.credentials.metadata(service),
                timeout=PEER_DEADLINE_SECONDS,
            )
            health_answer, component_answer = await asyncio.gather(check, component)
        except grpc.aio.AioRpcError:
            return PeerReport(service, "UNREACHABLE", None)
        health_name = health_pb2.HealthCheckResponse.ServingStatus.Name(health_answer.status)
        return PeerReport(service, health_name, component_answer)

    async def reports(self) -> list[PeerReport]:
        return list(await asyncio.gather(*(self.report(name) for name in self.channels)))

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))
