"""What a deletion takes with it, read before the deletion so that every row deleted gets its own
event (domain/cascade.py)."""

import uuid

import asyncpg

CERTIFICATES = "SELECT c.*, d.domain, d.project_id FROM certificates c JOIN domains d ON d.id = c.domain_id"


async def project_children(conn: asyncpg.Connection, project_id: uuid.UUID) -> dict[str, list]:
    applications = "SELECT id FROM applications WHERE project_id = $1"
    return {
        "certificate": await conn.fetch(f"{CERTIFICATES} WHERE d.project_id = $1", project_id),
        "domain": await conn.fetch("SELECT * FROM domains WHERE project_id = $1", project_id),
        "volume": await conn.fetch("SELECT * FROM volumes WHERE project_id = $1", project_id),
        "env_var": await conn.fetch(
            f"SELECT e.*, $1::uuid AS project_id FROM env_vars e WHERE e.application_id IN ({applications})",
            project_id,
        ),
        "git_source": await conn.fetch(
            f"SELECT g.*, $1::uuid AS project_id FROM git_sources g WHERE g.application_id IN ({applications})",
            project_id,
        ),
        "application": await conn.fetch("SELECT * FROM applications WHERE project_id = $1", project_id),
        "database": await conn.fetch("SELECT * FROM databases WHERE project_id = $1", project_id),
    }


async def target_children(
    conn: asyncpg.Connection, target_type: str, target_id: uuid.UUID
) -> dict[str, list]:
    """The domains routed to an application or database (and their certificates): they go with it."""
    return {
        "certificate": await conn.fetch(
            f"{CERTIFICATES} WHERE d.target_type = $1 AND d.target_id = $2", target_type, target_id
        ),
        "domain": await conn.fetch(
            "SELECT * FROM domains WHERE target_type = $1 AND target_id = $2", target_type, target_id
        ),
    }


async def application_children(conn: asyncpg.Connection, application_id: uuid.UUID) -> dict[str, list]:
    """Everything a purged application takes with it."""
    return {
        **await target_children(conn, "application", application_id),
        "env_var": await conn.fetch(
            "SELECT e.*, a.project_id FROM env_vars e JOIN applications a ON a.id = e.application_id"
            " WHERE e.application_id = $1",
            application_id,
        ),
        "git_source": await conn.fetch(
            "SELECT g.*, a.project_id FROM git_sources g JOIN applications a ON a.id = g.application_id"
            " WHERE g.application_id = $1",
            application_id,
        ),
    }


async def delete_domains_targeting(conn: asyncpg.Connection, target_type: str, target_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM domains WHERE target_type = $1 AND target_id = $2", target_type, target_id
    )


async def mounted_volumes(conn: asyncpg.Connection, column: str, owner_id: uuid.UUID) -> list[str]:
    """Names of the volumes an application (column application_id) or database (database_id) mounts."""
    assert column in ("application_id", "database_id")
    rows = await conn.fetch(f"SELECT name FROM volumes WHERE {column} = $1 ORDER BY name", owner_id)
    return [row["name"] for row in rows]
