"""A service's read model of projects' owners and teams (table `projects`: id, owner_id, team_id,
updated_at, made by the service's migration), kept from projects.project.* events: what project
access decisions (project_access) and the audit trail's scopes need to know of a project."""

import uuid

import asyncpg


async def upsert_project(
    conn: asyncpg.Connection, project_id: uuid.UUID, owner_id: uuid.UUID, team_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "INSERT INTO projects (id, owner_id, team_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE"
        " SET owner_id = EXCLUDED.owner_id, team_id = EXCLUDED.team_id, updated_at = now()",
        project_id,
        owner_id,
        team_id,
    )
