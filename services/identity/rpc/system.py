"""SystemService: the platform status page, hosted by identity."""

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit.server import ServiceRuntime
from services.identity.system_status import Peers, summarize


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    """Public and unauthenticated by design: operators and probes read it before anyone signs in."""

    def __init__(self, runtime: ServiceRuntime, peers: Peers) -> None:
        self.runtime = runtime
        self.peers = peers

    async def GetSystemStatus(self, request, context) -> system_pb2.SystemStatus:
        settings = self.runtime.settings
        return summarize(
            await self.peers.reports(),
            database_configured=settings.database_configured(),
            stream=settings.DOCKYARD_EVENTS_STREAM,
        )
