"""The caller as a service's decisions see them: the verified token's caller, with the lesser of the
platform role the token states and the role the service knows for the account now (identity's own
accounts, or another service's read model of identity's events). A demotion applies at once; a
promotion needs a new token, so a token never does more than it states."""

import dataclasses

from dockyard_kit.auth import PLATFORM_ROLES, Caller


def effective_role(token_role: str, current_role: str | None) -> str:
    """The lesser of the two roles; `current_role` None (the service has not heard of the account
    yet) leaves the token's role."""
    if current_role is None:
        return token_role
    # PLATFORM_ROLES runs from the highest role down: the lesser role is the later one.
    return max(token_role, current_role, key=PLATFORM_ROLES.index)


def effective_caller(caller: Caller, current_role: str | None) -> Caller:
    role = effective_role(caller.role, current_role)
    return caller if role == caller.role else dataclasses.replace(caller, role=role)
