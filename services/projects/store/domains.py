"""SQL for domains, and for the applications and databases that domains and volumes point at."""

import datetime
import uuid

import asyncpg

from dockyard_kit import sql
from services.projects.store.cascade import CERTIFICATES

TARGET_TABLES = {"application": "applications", "database": "databases"}


async def target(conn: asyncpg.Connection, target_type: str, target_id: uuid.UUID) -> asyncpg.Record | None:
    """The application or database's project_id and whether it is live (applications are archived by
    soft delete; databases are never archived), locked FOR SHARE so it stays so until commit."""
    live = "deleted_at IS NULL" if target_type == "application" else "true"
    return await conn.fetchrow(
        f"SELECT project_id, {live} AS live FROM {TARGET_TABLES[target_type]} WHERE id = $1 FOR SHARE",
        target_id,
    )


async def fetch(conn: asyncpg.Connection, domain_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM domains WHERE id = $1", domain_id)


async def list_for_project(
    conn: asyncpg.Connection,
    project_id: uuid.UUID,
    *,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    conditions = sql.Conditions()
    conditions.add("project_id = $?", project_id)
    return await conn.fetch(
        f"SELECT * FROM domains {conditions.newest_first_page(after, limit)}", *conditions.args
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    project_id: uuid.UUID,
    domain: str,
    target_type: str,
    target_id: uuid.UUID,
    tls_enabled: bool,
) -> asyncpg.Record:
    """A pending claim, with a fresh verification token (the column's default)."""
    return await conn.fetchrow(
        "INSERT INTO domains (project_id, domain, target_type, target_id, tls_enabled)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        project_id,
        domain,
        target_type,
        target_id,
        tls_enabled,
    )


async def lock_host(conn: asyncpg.Connection, domain: str) -> None:
    """Serializes verifications of one host name until commit (whichever project's claim)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('projects.domains:' || $1, 0))", domain)


async def verified_claim(conn: asyncpg.Connection, domain: str) -> asyncpg.Record | None:
    """The verified claim on the host name, of whichever project (uq_domains_verified_domain: one at most)."""
    return await conn.fetchrow("SELECT * FROM domains WHERE domain = $1 AND verified_at IS NOT NULL", domain)


async def mark_verified(conn: asyncpg.Connection, domain_id: uuid.UUID, verified_by: str) -> asyncpg.Record:
    """`verified_by`: dns or admin."""
    return await conn.fetchrow(
        "UPDATE domains SET verified_at = now(), verified_by = $2, updated_at = now() WHERE id = $1 RETURNING *",
        domain_id,
        verified_by,
    )


async def mark_pending(conn: asyncpg.Connection, domain_id: uuid.UUID) -> asyncpg.Record:
    """Back to pending, with a fresh token (so an old record cannot win the host name back)."""
    return await conn.fetchrow(
        "UPDATE domains SET verified_at = NULL, verified_by = NULL, verification_token = DEFAULT,"
        " updated_at = now() WHERE id = $1 RETURNING *",
        domain_id,
    )


async def update(conn: asyncpg.Connection, domain_id: uuid.UUID, changes: dict) -> asyncpg.Record | None:
    """`changes` maps column names (the API's updatable fields) to values."""
    assignments, args = sql.update_set(changes)
    return await conn.fetchrow(
        f"UPDATE domains SET {assignments} WHERE id = $1 RETURNING *", domain_id, *args
    )


async def children(conn: asyncpg.Connection, domain_id: uuid.UUID) -> dict[str, list]:
    """What deleting a domain takes with it (domain/cascade.py): its certificates."""
    return {"certificate": await conn.fetch(f"{CERTIFICATES} WHERE c.domain_id = $1", domain_id)}


async def delete(conn: asyncpg.Connection, domain_id: uuid.UUID) -> asyncpg.Record | None:
    """Deletes the domain; its certificates follow by ON DELETE CASCADE."""
    return await conn.fetchrow("DELETE FROM domains WHERE id = $1 RETURNING *", domain_id)
