"""Transactions and reads of the projects service. Every one that reads or writes projects sets who
is asking, so the row-level security policies on projects.projects (migration 0003) apply:
app.user_id is the caller, app.all_projects = 'on' for platform admins and for the service's own
work. Changes run in a caller transaction (settings local to it); reads on a connection of the
service's session pool, which keeps who is asking between calls (dockyard_kit.db.SessionPool), so a
caller's reads in a row cost one round trip each."""

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool


@contextlib.asynccontextmanager
async def caller_transaction(pool: asyncpg.Pool, caller: Caller) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('app.user_id', $1, true), set_config('app.all_projects', $2, true)",
            caller.user_id,
            "on" if caller.is_admin else "off",
        )
        yield conn


@contextlib.asynccontextmanager
async def caller_reads(pool: SessionPool, caller: Caller) -> AsyncIterator[asyncpg.Connection]:
    """A connection for reads as `caller`, outside any transaction: each statement sees its own
    snapshot, so it suits reads that need no change made with them."""
    settings = {"app.user_id": caller.user_id, "app.all_projects": "on" if caller.is_admin else "off"}
    async with pool.acquire(settings) as conn:
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
