"""SQL of the trail: writing an entry, reading one, a newest-first page, and the export's cursor.
Every read takes the filters and the caller's scope (who may see what, decided in domain/access.py)
as plain data and turns both into one WHERE clause."""

import dataclasses
import datetime
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg

from dockyard_kit.sql import Conditions
from services.audit.store import partitions

COLUMNS = (
    "a.id, a.user_id, a.username, a.action, a.resource_type, a.resource_id, a.details, a.ip_address,"
    " a.user_agent, a.created_at, a.project_id, a.team_id, a.request_id, a.event_id"
)


@dataclasses.dataclass(frozen=True)
class Filters:
    """What a list or export asks for; None or "" leaves a filter out."""

    query: str = ""
    user_id: uuid.UUID | None = None
    resource_type: str = ""
    resource_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    action: str = ""  # exact, or a prefix when it ends with "."
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    network: str = ""  # an address or a CIDR network, already checked


@dataclasses.dataclass(frozen=True)
class Scope:
    """The entries a caller may see: all (`everything`), else their own actions, plus, unless
    `own_only`, those of the teams they manage and of those teams' and their own projects; and
    only of `limited_to` projects when that is set (a project-limited token)."""

    user_id: uuid.UUID
    everything: bool = False
    own_only: bool = False
    managed_teams: tuple[uuid.UUID, ...] = ()
    limited_to: tuple[uuid.UUID, ...] | None = None


async def insert_many(conn: asyncpg.Connection, entries: list) -> None:
    """Entries (domain.entries.Entry), in order, in one statement: each actor's username from the
    read model, and no user id for an actor already deleted."""
    if not entries:
        return
    columns = list(zip(*((
        e.actor_id, e.action, e.resource_type, e.resource_id, json.dumps(e.details), e.ip_address,
        e.user_agent, e.created_at, e.project_id, e.team_id, e.request_id, e.event_id,
    ) for e in entries), strict=True))  # fmt: skip
    await conn.execute(
        """
        INSERT INTO audit_logs (user_id, username, action, resource_type, resource_id, details,
                                ip_address, user_agent, created_at, project_id, team_id, request_id,
                                event_id)
        SELECT CASE WHEN d.id IS NULL THEN e.actor_id END, u.username, e.action, e.resource_type,
               e.resource_id, e.details::jsonb, e.ip_address::inet, e.user_agent, e.created_at,
               e.project_id, e.team_id, e.request_id, e.event_id
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                    $8::timestamptz[], $9::uuid[], $10::uuid[], $11::text[], $12::uuid[])
             WITH ORDINALITY AS e(actor_id, action, resource_type, resource_id, details, ip_address,
                                  user_agent, created_at, project_id, team_id, request_id, event_id, n)
        LEFT JOIN users u ON u.id = e.actor_id
        LEFT JOIN deleted_users d ON d.id = e.actor_id
        ORDER BY e.n
        """,
        *(list(column) for column in columns),
    )


def _conditions(filters: Filters, scope: Scope) -> Conditions:
    where = Conditions()
    if not scope.everything:
        if scope.own_only:
            where.add("a.user_id = $?", scope.user_id)
        else:
            teams = list(scope.managed_teams)
            where.add(
                "(a.user_id = $? OR a.team_id = ANY($?::uuid[]) OR a.project_id IN"
                " (SELECT p.id FROM projects p WHERE p.owner_id = $? OR p.team_id = ANY($?::uuid[])))",
                scope.user_id,
                teams,
                scope.user_id,
                teams,
            )
    if scope.limited_to is not None:
        where.add("a.project_id = ANY($?::uuid[])", list(scope.limited_to))
    if filters.query:
        where.add("a.search_vector @@ websearch_to_tsquery('english', $?)", filters.query)
    for column in ("user_id", "resource_type", "resource_id", "project_id"):
        value = getattr(filters, column)
        if value:
            where.add(f"a.{column} = $?", value)
    if filters.action.endswith("."):
        # Types are [a-z0-9_.]: only "_" needs escaping from LIKE.
        where.add("a.action LIKE $?", filters.action.replace("_", r"\_") + "%")
    elif filters.action:
        where.add("a.action = $?", filters.action)
    if filters.since is not None:
        where.add("a.created_at >= $?", filters.since)
    if filters.until is not None:
        where.add("a.created_at < $?", filters.until)
    if filters.network:
        where.add("a.ip_address <<= $?::inet", filters.network)
    return where


async def fetch(conn: asyncpg.Connection, entry_id: int, scope: Scope) -> asyncpg.Record | None:
    where = _conditions(Filters(), scope)
    where.add("a.id = $?", entry_id)
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM audit_logs a {where.where}", *where.args)


async def page(
    conn: asyncpg.Connection,
    filters: Filters,
    scope: Scope,
    after: tuple[datetime.datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A newest-first page; of a full-text search, read month by month from the newest.

    PostgreSQL cannot read a RANGE-partitioned table in order while it has a default partition, so
    it merges every month's matches. The other filters' indexes give each month's matches in time
    order, but the full-text index does not: a word common to thousands of entries (a username)
    makes each month fetch all of its own. Months hold disjoint times: read newest first, the first
    months that fill the page are the page, merged with the default partition's matches (of any
    time). Filters alone are faster in one statement (no list of partitions to read first)."""
    if not filters.query:
        return await _page_of(conn, "audit_logs", None, filters, scope, after, limit)
    rows = await _page_of(conn, partitions.DEFAULT_PARTITION, None, filters, scope, after, limit)
    newest = min((t for t in (filters.until, after and after[0]) if t is not None), default=None)
    found: list[asyncpg.Record] = []
    for month in reversed([p for p in await partitions.list_partitions(conn) if p.start is not None]):
        if newest is not None and month.start > newest:
            continue
        if filters.since is not None and month.end <= filters.since:
            break
        found += await _page_of(conn, "audit_logs", month, filters, scope, after, limit - len(found))
        if len(found) >= limit:
            break
    return sorted(rows + found, key=lambda r: (r["created_at"], r["id"]), reverse=True)[:limit]


async def _page_of(
    conn: asyncpg.Connection,
    table: str,
    month: partitions.Partition | None,
    filters: Filters,
    scope: Scope,
    after: tuple[datetime.datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A page of one table (the parent or the default partition); of one month's times when `month`
    is given. A month is read through the
    parent by its times (PostgreSQL prunes to its partition), so a month dropped meanwhile by the
    retention reads as empty rather than failing."""
    where = _conditions(filters, scope)
    if month is not None:
        where.add("a.created_at >= $? AND a.created_at < $?", month.start, month.end)
    tail = where.newest_first_page(after, limit, alias="a")
    return await conn.fetch(f"SELECT {COLUMNS} FROM {table} a {tail}", *where.args)


async def stream(
    conn: asyncpg.Connection, filters: Filters, scope: Scope, *, prefetch: int = 1000
) -> AsyncIterator[asyncpg.Record]:
    """Every matching entry, newest first, through a server-side cursor (the caller holds the
    transaction): memory stays at `prefetch` rows however many match."""
    where = _conditions(filters, scope)
    query = f"SELECT {COLUMNS} FROM audit_logs a {where.where} ORDER BY a.created_at DESC, a.id DESC"
    async for row in conn.cursor(query, *where.args, prefetch=prefetch):
        yield row
