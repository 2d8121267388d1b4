"""The caller of a projects RPC, as this service sees them: the verified token's caller, with the
platform role from the service's read model of identity's users (so a demotion applies before the
token expires)."""

import dataclasses

import asyncpg

from dockyard_kit.auth import Caller, require_caller
from services.projects.store import read_model


async def projects_caller(pool: asyncpg.Pool) -> Caller:
    caller = require_caller()
    role = await read_model.current_role(pool, caller.user_id)
    return dataclasses.replace(caller, role=role) if role and role != caller.role else caller
