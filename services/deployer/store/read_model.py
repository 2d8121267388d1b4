"""The deployer's read model of projects' projects and applications (tables projects and
applications), kept by domain/upstream_events.py from projects' events. Users' platform roles and
team memberships (user_roles, team_members) are the kit's read model (dockyard_kit.identity_read_model)."""

import uuid

import asyncpg


async def application_with_project(conn: asyncpg.Connection, application_id: uuid.UUID, user_id: str):
    """The application with its project's owner_id, team_id and the caller's `team_role` there
    (None when not a member); None when the deployer has not heard of the application."""
    return await conn.fetchrow(
        "SELECT a.id AS application_id, a.name, a.status AS application_status, a.replicas,"
        " p.id, p.owner_id, p.team_id, tm.role AS team_role"
        " FROM applications a JOIN projects p ON p.id = a.project_id"
        " LEFT JOIN team_members tm ON tm.team_id = p.team_id AND tm.user_id = $2"
        " WHERE a.id = $1",
        application_id,
        uuid.UUID(user_id),
    )


async def application(conn: asyncpg.Connection, application_id: uuid.UUID):
    return await conn.fetchrow(
        "SELECT id, project_id, name, status, replicas FROM applications WHERE id = $1", application_id
    )


async def project_exists(conn: asyncpg.Connection, project_id: uuid.UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)", project_id)


async def delete_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> list[uuid.UUID]:
    """The project and its applications; the ids of the applications."""
    rows = await conn.fetch("DELETE FROM applications WHERE project_id = $1 RETURNING id", project_id)
    await conn.execute("DELETE FROM projects WHERE id = $1", project_id)
    return [row["id"] for row in rows]


async def upsert_application(
    conn: asyncpg.Connection,
    application_id: uuid.UUID,
    project_id: uuid.UUID,
    name: str,
    status: str,
    replicas: int,
):
    """The application as before the change (None if new)."""
    before = await conn.fetchrow(
        "SELECT status, replicas FROM applications WHERE id = $1 FOR UPDATE", application_id
    )
    await conn.execute(
        "INSERT INTO applications (id, project_id, name, status, replicas) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET project_id = EXCLUDED.project_id, name = EXCLUDED.name,"
        " status = EXCLUDED.status, replicas = EXCLUDED.replicas, updated_at = now()",
        application_id,
        project_id,
        name,
        status,
        replicas,
    )
    return before


async def delete_application(conn: asyncpg.Connection, application_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM applications WHERE id = $1", application_id)


async def installation_id(conn: asyncpg.Connection) -> str:
    """This platform's id (the migration made it), which its Swarm objects are labelled with."""
    return str(await conn.fetchval("SELECT id FROM installation"))
