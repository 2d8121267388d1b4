"""Reading the trail: one entry, a page, or everything for an export, each within the caller's
scope (access.py) and with the filters checked first (a bad one is INVALID_ARGUMENT naming it)."""

import dataclasses
import datetime
import ipaddress
import re
from collections.abc import AsyncIterator

import asyncpg

from dockyard_kit import pagination, protoconv
from dockyard_kit.auth import Caller
from dockyard_kit.errors import InvalidArgument, NotFound
from services.audit.domain import access
from services.audit.domain.entries import RESOURCE_TYPES
from services.audit.store import entries as entry_store
from services.audit.store.entries import Filters

MAX_QUERY_LENGTH = 500
# An event type, or its prefix up to a "." (projects., projects.application.).
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,2}\.?")
EXPORT_FORMATS = ("ndjson", "csv")


@dataclasses.dataclass(frozen=True)
class RequestedFilters:
    """The filters as a request gives them: strings, and times when set."""

    query: str = ""
    user_id: str = ""
    resource_type: str = ""
    resource_id: str = ""
    project_id: str = ""
    action: str = ""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    ip: str = ""


def check_filters(requested: RequestedFilters) -> Filters:
    # "+" has no meaning in websearch syntax; it is a space that a form-encoded query string kept
    # (the gateway decodes %20, not "+").
    query = requested.query.replace("+", " ").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidArgument("query", f"must be at most {MAX_QUERY_LENGTH} characters")
    if requested.resource_type and requested.resource_type not in RESOURCE_TYPES:
        raise InvalidArgument("resource_type", f"must be one of {', '.join(RESOURCE_TYPES)}")
    if requested.action and (len(requested.action) > 100 or not _ACTION.fullmatch(requested.action)):
        raise InvalidArgument(
            "action", "must be an event type (projects.application.created) or a prefix ending in '.'"
        )
    if requested.since and requested.until and requested.since >= requested.until:
        raise InvalidArgument("until", "must be later than since")
    network = ""
    if requested.ip:
        try:
            network = str(ipaddress.ip_network(requested.ip.strip(), strict=False))
        except ValueError:
            raise InvalidArgument("ip", "must be an IP address or a network in CIDR form") from None
    return Filters(
        query=query,
        user_id=protoconv.optional_id(requested.user_id, "user_id"),
        resource_type=requested.resource_type,
        resource_id=protoconv.optional_id(requested.resource_id, "resource_id"),
        project_id=protoconv.optional_id(requested.project_id, "project_id"),
        action=requested.action,
        since=requested.since,
        until=requested.until,
        network=network,
    )


def _not_found(entry_id: int) -> NotFound:
    return NotFound(f"audit log entry {entry_id} not found")


async def get_entry(pool: asyncpg.Pool, caller: Caller, entry_id: int) -> asyncpg.Record:
    if entry_id <= 0:
        raise InvalidArgument("id", "must be a positive entry id")
    async with pool.acquire() as conn:
        row = await entry_store.fetch(conn, entry_id, await access.scope(conn, caller))
    if row is None:
        raise _not_found(entry_id)
    return row


def _page_key(row) -> str:
    return f"{row['created_at'].isoformat()}|{row['id']}"


def _page_after(page: pagination.Page) -> tuple[datetime.datetime, int] | None:
    if page.after is None:
        return None
    created_at, _, entry_id = page.after.partition("|")
    try:
        return datetime.datetime.fromisoformat(created_at), int(entry_id)
    except ValueError:
        raise InvalidArgument("page_token", "is not a page token this service issued") from None


async def list_entries(
    pool: asyncpg.Pool, caller: Caller, requested: RequestedFilters, page_size: int, page_token: str
) -> tuple[list[asyncpg.Record], str]:
    filters = check_filters(requested)
    page = pagination.parse_page(page_size, page_token, {"list": "audit_logs", **_fingerprint(filters)})
    async with pool.acquire() as conn:
        scope = await access.scope(conn, caller)
        rows = await entry_store.page(conn, filters, scope, _page_after(page), page.fetch_limit)
    return pagination.split_page(rows, page, _page_key)


def _fingerprint(filters: Filters) -> dict:
    return {field: str(value) for field, value in dataclasses.asdict(filters).items() if value}


def check_format(requested: str) -> str:
    export_format = requested or "ndjson"
    if export_format not in EXPORT_FORMATS:
        raise InvalidArgument("format", f"must be one of {', '.join(EXPORT_FORMATS)}")
    return export_format


async def export_entries(
    pool: asyncpg.Pool, caller: Caller, filters: Filters
) -> AsyncIterator[asyncpg.Record]:
    """Every entry matching (filters checked by check_filters first, so that a bad one is refused
    before the download starts), newest first, read from one snapshot as the consumer takes them."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        scope = await access.scope(conn, caller)
        async for row in entry_store.stream(conn, filters, scope):
            yield row
