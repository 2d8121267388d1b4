"""SystemService: the platform status page, hosted by identity."""

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit import db
from dockyard_kit.auth import current_caller
from dockyard_kit.errors import DomainError
from dockyard_kit.server import ServiceRuntime
from services.identity.rpc.servicer import IdentityServicer
from services.identity.system_status import Peers, SharedStatus, summarize


class SystemServicer(IdentityServicer, system_pb2_grpc.SystemServiceServicer):
    """Public by design: operators and probes read it before anyone signs in. Platform admins (a
    valid access token comes along) read the whole page, freshly assembled; everyone else reads its
    states only, shared between callers for a moment (system_status.SharedStatus)."""

    def __init__(self, runtime: ServiceRuntime, peers: Peers) -> None:
        super().__init__(runtime)
        self.peers = peers
        self.public_status = SharedStatus(self.assemble)

    async def GetSystemStatus(self, request, context) -> system_pb2.SystemStatus:
        if await self.caller_is_admin():
            return await self.assemble()
        return await self.public_status.get()

    async def assemble(self) -> system_pb2.SystemStatus:
        settings = self.runtime.settings
        return summarize(
            await self.peers.reports(),
            database_configured=settings.database_configured(),
            stream=settings.DOCKYARD_EVENTS_STREAM,
        )

    async def caller_is_admin(self) -> bool:
        """Whether the caller is a platform admin by their account's current role. An account that is
        no longer one, or that cannot be read, gets the page everyone gets."""
        caller = current_caller.get()
        if caller is None or not caller.is_admin:
            return False
        try:
            return (await self.caller()).is_admin
        except (DomainError, *db.DATABASE_ERRORS):
            return False
