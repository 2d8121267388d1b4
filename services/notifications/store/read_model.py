"""The notifications service's read models, kept from projects' events (domain/events.py):
projects (owner and team, through the kit's upsert, dockyard_kit.projects_read_model, and the
name messages show) and certificates (what the expiry check warns about). Users' roles and team
memberships are the kit's read model (dockyard_kit.identity_read_model)."""

import datetime
import uuid

import asyncpg


async def set_project_name(conn: asyncpg.Connection, project_id: uuid.UUID, name: str) -> None:
    await conn.execute("UPDATE projects SET name = $2 WHERE id = $1", project_id, name)


async def project_name(conn: asyncpg.Connection, project_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT name FROM projects WHERE id = $1", project_id)


async def project_team(conn: asyncpg.Connection, project_id: uuid.UUID) -> uuid.UUID | None:
    return await conn.fetchval("SELECT team_id FROM projects WHERE id = $1", project_id)


async def delete_project(conn: asyncpg.Connection, project_id: uuid.UUID) -> None:
    """The project, its certificates and its channels (their deliveries go with them)."""
    await conn.execute("DELETE FROM channels WHERE project_id = $1", project_id)
    await conn.execute("DELETE FROM certificates WHERE project_id = $1", project_id)
    await conn.execute("DELETE FROM projects WHERE id = $1", project_id)


async def delete_team_channels(conn: asyncpg.Connection, team_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM channels WHERE team_id = $1", team_id)


async def project_with_role(conn: asyncpg.Connection, project_id: uuid.UUID, user_id: str):
    """The project's id, owner_id, team_id and the caller's `team_role` there (None when not a
    member); None when the service has not heard of the project."""
    return await conn.fetchrow(
        "SELECT p.id, p.owner_id, p.team_id, tm.role AS team_role FROM projects p"
        " LEFT JOIN team_members tm ON tm.team_id = p.team_id AND tm.user_id = $2 WHERE p.id = $1",
        project_id,
        uuid.UUID(user_id),
    )


async def team_known(conn: asyncpg.Connection, team_id: uuid.UUID) -> bool:
    """A team always keeps an owner: it exists while any membership of it is known."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM team_members WHERE team_id = $1)", team_id)


async def upsert_certificate(
    conn: asyncpg.Connection,
    certificate_id: uuid.UUID,
    project_id: uuid.UUID,
    domain_id: uuid.UUID,
    domain: str,
    expires_at: datetime.datetime,
) -> None:
    await conn.execute(
        "INSERT INTO certificates (id, project_id, domain_id, domain, expires_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET project_id = EXCLUDED.project_id, domain_id = EXCLUDED.domain_id,"
        " domain = EXCLUDED.domain, expires_at = EXCLUDED.expires_at, updated_at = now()",
        certificate_id,
        project_id,
        domain_id,
        domain,
        expires_at,
    )


async def delete_certificate(conn: asyncpg.Connection, certificate_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM certificates WHERE id = $1", certificate_id)


async def expiring_certificates(conn: asyncpg.Connection):
    """Each enabled channel subscribed to certificate expiry with each certificate in its reach
    (its project's, or its team's projects') that expires within its window and has not expired
    yet, when it is its domain's latest certificate (an older one beside a renewal says nothing)."""
    return await conn.fetch(
        """
        SELECT ch.id AS channel_id, c.id AS certificate_id, c.domain, c.expires_at, c.project_id,
               p.name AS project_name
        FROM channels ch
        JOIN projects p ON p.id = ch.project_id OR (ch.team_id IS NOT NULL AND p.team_id = ch.team_id)
        JOIN certificates c ON c.project_id = p.id
        WHERE ch.enabled AND 'certificate_expiring' = ANY(ch.events)
          AND c.expires_at > now()
          AND c.expires_at <= now() + make_interval(days => ch.certificate_expiring_within_days)
          AND NOT EXISTS (SELECT 1 FROM certificates newer
                          WHERE newer.domain_id = c.domain_id AND newer.expires_at > c.expires_at)
        """
    )
