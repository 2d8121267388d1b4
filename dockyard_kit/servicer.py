"""The base of every service's gRPC servicers: it hands each handler the database pool and the
verified caller with their effective role (access.effective_caller).

A service subclasses it once, saying where the account's current role comes from, and its
servicers derive from that subclass and the generated servicer:

    class ProjectsServicer(Servicer):
        async def current_role(self, caller):
            return await read_model.current_role(self.pool, caller.user_id)

    class ProjectServicer(ProjectsServicer, projects_pb2_grpc.ProjectServiceServicer):
        async def GetProject(self, request, context):
            caller = await self.caller()
            ...
"""

import abc

import asyncpg

from dockyard_kit import db
from dockyard_kit.access import effective_caller
from dockyard_kit.auth import Caller, require_caller
from dockyard_kit.server import ServiceRuntime


class Servicer(abc.ABC):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's pool; UNAVAILABLE while the database is not ready."""
        return self.runtime.require_pool()

    @property
    def session_pool(self) -> db.SessionPool:
        """The service's pool for reads under row-level security (db.SessionPool)."""
        return self.runtime.require_session_pool()

    @abc.abstractmethod
    async def current_role(self, caller: Caller) -> str | None:
        """The platform role the service knows for the caller's account now, or None if it knows
        none. A service may refuse the caller here (identity refuses a disabled account). Abstract,
        so a servicer that does not say fails when the service builds it, not at its first RPC."""

    async def caller(self) -> Caller:
        """The verified caller of this RPC, with their effective role (the current role read through
        the runtime's memo, access.CurrentRoles)."""
        caller = require_caller()
        current = await self.runtime.current_roles.get(caller.user_id, lambda: self.current_role(caller))
        return effective_caller(caller, current)
