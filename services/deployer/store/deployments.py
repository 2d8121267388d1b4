"""SQL for deployments and their queue.

The queue is the deployments table itself: pending rows wait in started_at order; a worker claims
one (claim_next) and holds it by a lease it renews (renew_lease). Claims are serialized by a
transaction-level advisory lock, so the two limits - one running deployment per application, at
most `max_active` running in all - hold across any number of deployer replicas; the rows are still
taken FOR UPDATE SKIP LOCKED, so a claim never waits on a row another transaction is changing.
"""

import datetime
import json
import uuid

import asyncpg

from dockyard_kit import sql

UNFINISHED = ("pending", "building", "deploying")
RUNNING = ("building", "deploying")
# pg_advisory_xact_lock's key for claims ("dplq").
CLAIM_LOCK_KEY = 0x64706C71

COLUMNS = (
    "id, application_id, project_id, triggered_by, status, commit_sha, logs, metadata, started_at,"
    " completed_at, request_id, git_ref, rollback_to, lease_owner, lease_expires_at, attempts,"
    " cancel_requested_by, cancel_requested_at"
)


async def fetch(conn: asyncpg.Connection, deployment_id: uuid.UUID, *, lock: bool = False):
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM deployments WHERE id = $1{' FOR UPDATE' if lock else ''}", deployment_id
    )


async def by_request_id(conn: asyncpg.Connection, application_id: uuid.UUID, request_id: str):
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM deployments WHERE application_id = $1 AND request_id = $2",
        application_id,
        request_id,
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    application_id: uuid.UUID,
    project_id: uuid.UUID,
    triggered_by: uuid.UUID | None,
    request_id: str | None,
    git_ref: str | None,
    rollback_to: uuid.UUID | None,
    metadata: dict,
):
    """The new pending deployment, or None when `request_id` was taken meanwhile (the caller reads
    the first one)."""
    return await conn.fetchrow(
        "INSERT INTO deployments (application_id, project_id, triggered_by, request_id, git_ref,"
        " rollback_to, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
        " ON CONFLICT (application_id, request_id) WHERE request_id IS NOT NULL DO NOTHING"
        f" RETURNING {COLUMNS}",
        application_id,
        project_id,
        triggered_by,
        request_id,
        git_ref,
        rollback_to,
        json.dumps(metadata),
    )


async def list_page(
    conn: asyncpg.Connection,
    application_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, by (started_at, id)."""
    where = sql.Conditions()
    where.add("application_id = $?", application_id)
    if status is not None:
        where.add("status = $?", status)
    page = where.newest_first_page(after, limit, time_column="started_at")
    return await conn.fetch(f"SELECT {COLUMNS} FROM deployments {page}", *where.args)


async def claim_next(
    conn: asyncpg.Connection, owner: str, lease_seconds: float, max_active: int
) -> tuple[asyncpg.Record, bool] | None:
    """Takes the next deployment to work on, inside the caller's transaction, leased to `owner`:
    a running one whose worker's lease ran out (to recover it: `True`), else the oldest pending one
    of an application with nothing running, while fewer than `max_active` run; that one becomes
    `building` (`False`). None when there is nothing to take."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK_KEY)
    lease = "lease_owner = $2, lease_expires_at = clock_timestamp() + make_interval(secs => $3)"
    expired = await conn.fetchrow(
        "SELECT id FROM deployments WHERE status IN ('building', 'deploying')"
        " AND lease_expires_at < clock_timestamp() ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    if expired is not None:
        row = await conn.fetchrow(
            f"UPDATE deployments SET {lease}, attempts = attempts + 1 WHERE id = $1 RETURNING {COLUMNS}",
            expired["id"],
            owner,
            lease_seconds,
        )
        return row, True
    active = await conn.fetchval("SELECT count(*) FROM deployments WHERE status IN ('building', 'deploying')")
    if active >= max_active:
        return None
    candidate = await conn.fetchrow(
        "SELECT id FROM deployments AS d WHERE d.status = 'pending'"
        " AND NOT EXISTS (SELECT 1 FROM deployments AS r WHERE r.application_id = d.application_id"
        "   AND r.status IN ('building', 'deploying'))"
        " AND NOT EXISTS (SELECT 1 FROM deployments AS e WHERE e.application_id = d.application_id"
        "   AND e.status = 'pending' AND (e.started_at, e.id) < (d.started_at, d.id))"
        " ORDER BY d.started_at, d.id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    if candidate is None:
        return None
    row = await conn.fetchrow(
        f"UPDATE deployments SET status = 'building', {lease}, attempts = attempts + 1,"
        " metadata = metadata || jsonb_build_object('claimed_at', to_jsonb(clock_timestamp()))"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        candidate["id"],
        owner,
        lease_seconds,
    )
    return row, False


async def renew_lease(
    conn: asyncpg.Connection, deployment_id: uuid.UUID, owner: str, lease_seconds: float
) -> asyncpg.Record | None:
    """Extends the lease while `owner` still holds it; the row (to see a cancel asked meanwhile),
    or None once the lease was lost (taken over after it ran out, or the deployment ended)."""
    return await conn.fetchrow(
        "UPDATE deployments SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)"
        " WHERE id = $1 AND lease_owner = $2 AND completed_at IS NULL"
        " RETURNING id, cancel_requested_by, cancel_requested_at",
        deployment_id,
        owner,
        lease_seconds,
    )


async def move(
    conn: asyncpg.Connection,
    deployment_id: uuid.UUID,
    status: str,
    *,
    metadata: dict | None = None,
    commit_sha: str | None = None,
    logs: str | None = None,
    owner: str | None = None,
):
    """Sets the status (a final one also ends the lease and stamps completed_at), merging
    `metadata` into the stored metadata. With `owner`, only while that worker holds the lease
    (None otherwise)."""
    final = status not in UNFINISHED
    return await conn.fetchrow(
        "UPDATE deployments SET status = $2, metadata = metadata || $3::jsonb,"
        " commit_sha = COALESCE($4, commit_sha), logs = COALESCE($5, logs),"
        " completed_at = CASE WHEN $6 THEN clock_timestamp() END,"
        " lease_owner = CASE WHEN $6 THEN NULL ELSE lease_owner END,"
        " lease_expires_at = CASE WHEN $6 THEN NULL ELSE lease_expires_at END"
        " WHERE id = $1 AND ($7::text IS NULL OR lease_owner = $7)"
        f" RETURNING {COLUMNS}",
        deployment_id,
        status,
        json.dumps(metadata or {}),
        commit_sha,
        logs,
        final,
        owner,
    )


async def merge_metadata(conn: asyncpg.Connection, deployment_id: uuid.UUID, metadata: dict) -> None:
    await conn.execute(
        "UPDATE deployments SET metadata = metadata || $2::jsonb WHERE id = $1",
        deployment_id,
        json.dumps(metadata),
    )


async def request_cancel(conn: asyncpg.Connection, deployment_id: uuid.UUID, user_id: uuid.UUID | None):
    return await conn.fetchrow(
        "UPDATE deployments SET cancel_requested_by = $2,"
        " cancel_requested_at = COALESCE(cancel_requested_at, clock_timestamp())"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        deployment_id,
        user_id,
    )


async def successful(
    conn: asyncpg.Connection, application_id: uuid.UUID, *, limit: int | None = None
) -> list[asyncpg.Record]:
    """The application's successful deployments, newest first."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM deployments WHERE application_id = $1 AND status = 'success'"
        " ORDER BY completed_at DESC, id DESC" + (f" LIMIT {int(limit)}" if limit is not None else ""),
        application_id,
    )


async def running_count(conn: asyncpg.Connection, application_id: uuid.UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM deployments WHERE application_id = $1 AND status IN ('building', 'deploying')",
        application_id,
    )


async def delete_for_application(conn: asyncpg.Connection, application_id: uuid.UUID) -> int:
    """The seed's APPLICATION -> DEPLOYMENT CASCADE (log lines follow by their foreign key)."""
    result = await conn.execute("DELETE FROM deployments WHERE application_id = $1", application_id)
    return int(result.split()[-1])


async def forget_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """The seed's USER -> DEPLOYMENT SET NULL."""
    await conn.execute("UPDATE deployments SET triggered_by = NULL WHERE triggered_by = $1", user_id)
    await conn.execute(
        "UPDATE deployments SET cancel_requested_by = NULL WHERE cancel_requested_by = $1", user_id
    )
    await conn.execute(
        "UPDATE deployments SET metadata = metadata - 'cancelled_by' WHERE metadata->>'cancelled_by' = $1",
        str(user_id),
    )


async def expired_for_logs(conn: asyncpg.Connection, older_than: datetime.timedelta, limit: int):
    """Finished deployments past the deployment retention that still hold logs or an image."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM deployments WHERE completed_at < clock_timestamp() - $1::interval"
        " AND NOT (metadata ? 'archived_at') ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        older_than,
        limit,
    )


async def mark_archived(conn: asyncpg.Connection, deployment_id: uuid.UUID) -> None:
    """Keeps the row and its metadata; the summary and stored lines go (retention)."""
    await conn.execute(
        "UPDATE deployments SET logs = '', metadata = metadata || jsonb_build_object('archived_at',"
        " to_jsonb(clock_timestamp())) WHERE id = $1",
        deployment_id,
    )
