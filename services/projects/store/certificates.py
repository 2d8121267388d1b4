"""SQL for certificates. Every row comes joined with its domain's name and project (the columns
`domain` and `project_id`), as responses and events show them."""

import datetime
import uuid

import asyncpg

from dockyard_kit import sql
from services.projects.store.cascade import CERTIFICATES

# After a `WITH c AS (INSERT|UPDATE|DELETE ... RETURNING *)`: the changed row joined like CERTIFICATES.
_WITH_DOMAIN = " SELECT c.*, d.domain, d.project_id FROM c JOIN domains d ON d.id = c.domain_id"


async def fetch(conn: asyncpg.Connection, certificate_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{CERTIFICATES} WHERE c.id = $1", certificate_id)


async def list_for_domain(
    conn: asyncpg.Connection,
    domain_id: uuid.UUID,
    *,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    conditions = sql.Conditions()
    conditions.add("c.domain_id = $?", domain_id)
    return await conn.fetch(
        f"{CERTIFICATES} {conditions.newest_first_page(after, limit, alias='c')}", *conditions.args
    )


async def list_expiring(
    conn: asyncpg.Connection,
    user_id: str,
    *,
    all_projects: bool,
    limited_to: list[uuid.UUID] | None,
    before: datetime.datetime,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Certificates expiring before `before` (expired ones too) in the projects the caller can see:
    every project (`all_projects`) or those they own or share a team with, and only `limited_to`
    when given; soonest first, after the keyset cursor `after`."""
    return await conn.fetch(
        f"{CERTIFICATES} JOIN projects p ON p.id = d.project_id"
        " WHERE c.expires_at < $1"
        " AND ($2 OR p.owner_id = $3 OR p.team_id IN (SELECT team_id FROM team_members WHERE user_id = $3))"
        " AND ($4::uuid[] IS NULL OR p.id = ANY($4::uuid[]))"
        " AND ($5::timestamptz IS NULL OR (c.expires_at, c.id) > ($5, $6::uuid))"
        " ORDER BY c.expires_at, c.id LIMIT $7",
        before,
        all_projects,
        uuid.UUID(user_id),
        limited_to,
        *(after or (None, None)),
        limit,
    )


async def insert(
    conn: asyncpg.Connection,
    certificate_id: uuid.UUID,
    domain_id: uuid.UUID,
    *,
    issuer: str,
    certificate: str,
    sealed_private_key: str,
    expires_at: datetime.datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "WITH c AS (INSERT INTO certificates (id, domain_id, issuer, certificate, private_key, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)" + _WITH_DOMAIN,
        certificate_id,
        domain_id,
        issuer,
        certificate,
        sealed_private_key,
        expires_at,
    )


async def update(conn: asyncpg.Connection, certificate_id: uuid.UUID, changes: dict) -> asyncpg.Record | None:
    """`changes` maps column names (issuer, certificate, private_key sealed, expires_at) to values."""
    assignments, args = sql.update_set(changes)
    return await conn.fetchrow(
        f"WITH c AS (UPDATE certificates SET {assignments} WHERE id = $1 RETURNING *)" + _WITH_DOMAIN,
        certificate_id,
        *args,
    )


async def delete(conn: asyncpg.Connection, certificate_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "WITH c AS (DELETE FROM certificates WHERE id = $1 RETURNING *)" + _WITH_DOMAIN,
        certificate_id,
    )
