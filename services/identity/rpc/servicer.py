"""The base of identity's servicers: a caller's current platform role is their account's, so a
demotion applies at once (dockyard_kit.access); an account disabled or deleted since the token was
issued is refused (users.current_account). It is read through the runtime's memo
(access.CurrentRoles), which the handlers that change an account forget it from."""

from dockyard_kit.auth import Caller
from dockyard_kit.servicer import Servicer
from services.identity.domain import users


class IdentityServicer(Servicer):
    async def current_role(self, caller: Caller) -> str:
        return (await users.current_account(self.pool, caller))["role"]
