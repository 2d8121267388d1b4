"""Transactions of the projects service. Every one that reads or writes projects sets who is
asking, so the row-level security policies on projects.projects (migration 0003) apply: app.user_id
is the caller, app.all_projects = 'on' for platform admins and for the service's own work."""

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from dockyard_kit.auth import Caller


@contextlib.asynccontextmanager
async def caller_transaction(pool: asyncpg.Pool, caller: Caller) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('app.user_id', $1, true), set_config('app.all_projects', $2, true)",
            caller.user_id,
            "on" if caller.is_admin else "off",
        )
        yield conn


async def as_platform(conn: asyncpg.Connection) -> None:
    """For the service's own work inside a transaction (event consumers, housekeeping): every project."""
    await conn.execute(
        "SELECT set_config('app.user_id', '', true), set_config('app.all_projects', 'on', true)"
    )


@contextlib.asynccontextmanager
async def platform_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await as_platform(conn)
        yield conn
