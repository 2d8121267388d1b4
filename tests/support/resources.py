"""The platform's resources as tests make and read them (the projects and deployer tests alike):
unique names, projects and applications over REST, rows put straight into the schema, and reads of
the stack's database as its administrative login (row-level security does not apply to it)."""

import asyncio
import uuid

from dockyard.events.v1.envelope_pb2 import Event
from tests.support.calls import rest
from tests.support.database import admin_database


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


def sql_value(stack, query: str, *args):
    """The single value `query` returns in the projects schema (a count, an inserted id, ...)."""
    return sql(stack, "projects", query, *args)[0][0]


def outbox(stack, resource_id: str, schema: str = "projects") -> list[Event]:
    """The events about one resource in a schema's outbox, in commit order."""
    rows = sql(stack, schema, "SELECT envelope FROM outbox ORDER BY id")
    return [
        event
        for event in (Event.FromString(row["envelope"]) for row in rows)
        if event.resource_id == resource_id
    ]


def call(stack, account, method: str, path: str, body=None) -> tuple[int, dict]:
    """A REST call through the gateway as `account`: (status, JSON body)."""
    return rest(stack.port, method, path, body, token=account.token)


def violated_field(body: dict) -> str:
    """The field a REST error body's BadRequest detail names."""
    return body["details"][0]["field_violations"][0]["field"]


def new_app(stack, account, project_id: str, **fields) -> dict:
    """A new application over REST (a docker one with a unique name unless `fields` say otherwise)."""
    body = {"name": unique("app"), "type": "docker", **fields}
    status, created = rest(
        stack.port, "POST", f"/v1/projects/{project_id}/applications", body, token=account.token
    )
    assert status == 200, created
    return created


def insert_application(stack, project_id: str, *, archived: bool = False) -> str:
    """An application row straight into the schema, for tests of what refers to one."""
    return str(
        sql_value(
            stack,
            "INSERT INTO applications (project_id, name, type, source_type, status, deleted_at)"
            " VALUES ($1, $2, 'docker', 'docker', CASE WHEN $3 THEN 'archived' ELSE 'stopped' END,"
            " CASE WHEN $3 THEN now() END) RETURNING id",
            uuid.UUID(project_id),
            unique("app"),
            archived,
        )
    )


def insert_database(stack, project_id: str) -> str:
    """A database row straight into the schema (its connection string is not a real ciphertext)."""
    name = unique("db")
    return str(
        sql_value(
            stack,
            "INSERT INTO databases (project_id, name, type, version, username, connection_string)"
            " VALUES ($1, $2, 'postgresql', '18', $3, 'sealed') RETURNING id",
            uuid.UUID(project_id),
            name,
            name.replace("-", "_"),
        )
    )


def host() -> str:
    return f"{unique('h')}.example.com"


def create_domain(stack, account, project_id: str, target_id: str, **fields) -> dict:
    """A new domain over REST, routed to the application `target_id` unless `fields` say otherwise."""
    body = {"domain": host(), "target_type": "application", "target_id": target_id, **fields}
    status, created = rest(
        stack.port, "POST", f"/v1/projects/{project_id}/domains", body, token=account.token
    )
    assert status == 200, created
    return created
