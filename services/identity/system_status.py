"""The platform's status page, assembled from every service's component status and health.

`summarize` is the pure part (what the page says, given what each service answered); `Peers` asks
the services, each call bounded by a short deadline so a dead service shows up as UNREACHABLE
instead of stalling the page. ComponentService is internal: identity calls it with its own service
credential (dockyard_kit/service_auth.py).

Anyone may read the page, but only platform admins read all of it: error text and server versions
help an attacker, so everyone else gets `states_only`, from `SharedStatus`, which asks the services
at most once per PUBLIC_STATUS_MAX_AGE_SECONDS however many callers come at once.
"""

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit.config import Settings
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.service_auth import ServiceCredentials

PEER_DEADLINE_SECONDS = 1.5
# How old the page anonymous callers read may be: short, so a probe sees a change within seconds.
PUBLIC_STATUS_MAX_AGE_SECONDS = 2.0


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
    audit_trail = next(
        (c.audit_trail for c in components if c.HasField("audit_trail")),
        system_pb2.AuditTrailStatus(warning="the audit service did not answer"),
    )
    status = system_pb2.SystemStatus(
        database=database,
        nats=nats,
        docker=docker,
        audit_trail=audit_trail,
        services=[system_pb2.ServiceHealth(name=r.service, status=r.health) for r in reports],
    )
    status.checked_at.GetCurrentTime()
    return status


def states_only(status: system_pb2.SystemStatus) -> system_pb2.SystemStatus:
    """The page without what only platform admins read: no error text, versions, revisions or names
    of the configuration (the stream), only whether each part works."""
    database = status.database
    return system_pb2.SystemStatus(
        database=system_pb2.DatabaseStatus(
            configured=database.configured,
            initialized=database.initialized,
            dialect=database.dialect,
            schemas=[system_pb2.SchemaStatus(name=s.name, at_head=s.at_head) for s in database.schemas],
        ),
        nats=system_pb2.NatsStatus(connected=status.nats.connected),
        docker=system_pb2.DockerStatus(
            available=status.docker.available, swarm_active=status.docker.swarm_active
        ),
        services=status.services,
        checked_at=status.checked_at,
    )


class SharedStatus:
    """The states-only page, assembled at most once per `max_age` seconds: callers arriving while it
    is being assembled wait for that one answer instead of asking every service again."""

    def __init__(
        self,
        assemble: Callable[[], Awaitable[system_pb2.SystemStatus]],
        max_age: float = PUBLIC_STATUS_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.assemble = assemble
        self.max_age = max_age
        self.clock = clock
        self._status: system_pb2.SystemStatus | None = None
        self._assembled_at = 0.0
        self._pending: asyncio.Future | None = None

    async def get(self) -> system_pb2.SystemStatus:
        if self._status is not None and self.clock() - self._assembled_at < self.max_age:
            return self._status
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._refresh())
        # Shielded: one caller going away must not cancel the answer the others wait for.
        return await asyncio.shield(self._pending)

    async def _refresh(self) -> system_pb2.SystemStatus:
        try:
            self._status = states_only(await self.assemble())
            self._assembled_at = self.clock()
            return self._status
        finally:
            self._pending = None


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
