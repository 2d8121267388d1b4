"""The base of the deployer's servicers: a caller's current platform role comes from the deployer's
own read model of identity's users (dockyard_kit.identity_read_model), so a demotion or a disabled
account applies here as fast as in projects."""

from dockyard_kit import identity_read_model
from dockyard_kit.auth import Caller
from dockyard_kit.servicer import Servicer


class DeployerServicer(Servicer):
    async def current_role(self, caller: Caller) -> str | None:
        return await identity_read_model.current_role(self.pool, caller.user_id)
