"""The base of the projects service's servicers: a caller's current platform role comes from the
service's read model of identity's users (dockyard_kit/identity_read_model.py), so a demotion
applies before the token expires, and a promotion waits for a new token (dockyard_kit.access)."""

from dockyard_kit import identity_read_model
from dockyard_kit.auth import Caller
from dockyard_kit.servicer import Servicer


class ProjectsServicer(Servicer):
    async def current_role(self, caller: Caller) -> str | None:
        return await identity_read_model.current_role(self.pool, caller.user_id)
