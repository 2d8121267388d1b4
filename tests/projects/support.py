"""Calls the projects tests share: unique names, a project over REST, and reads of the stack's
database as its administrative login (row-level security does not apply to it)."""

import asyncio
import uuid

from dockyard.events.v1.envelope_pb2 import Event
from tests.identity.accounts import rest
from tests.identity.auth_support import admin_database


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(stack, account, **fields) -> dict:
    """A new project of `account`'s over REST (a unique name unless `name` is given)."""
    status, body = rest(
        stack.port, "POST", "/v1/projects", {"name": unique("proj"), **fields}, token=account.token
    )
    assert status == 200, body
    return body


def sql(stack, schema: str, query: str, *args) -> list:
    async def run():
        async with admin_database(stack, schema) as pool:
            return await pool.fetch(query, *args)

    return asyncio.run(run())


def count_rows(stack, query: str, *args) -> int:
    """The single value `query` selects in the projects schema."""
    return sql(stack, "projects", query, *args)[0][0]


def outbox(stack, resource_id: str, schema: str = "projects") -> list[Event]:
    """The events about one resource in a schema's outbox, in commit order."""
    rows = sql(stack, schema, "SELECT envelope FROM outbox ORDER BY id")
    return [
        event
        for event in (Event.FromString(row["envelope"]) for row in rows)
        if event.resource_id == resource_id
    ]
