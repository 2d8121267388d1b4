"""Custom domains: host names routed to a live application or database of the same project.
Access rules: domain/access.py (reads need READ, changes WRITE).

Ownership: a domain is created `pending` with a verification token (shown to the project's writers
only) and becomes `verified` once VerifyDomain sees the DNS challenge (domain/dns_challenge.py), or
a platform admin marks it so; only verified domains are routed. Any number of projects may hold a
pending claim on a host name, so creating one says nothing about other tenants; at most one claim
is verified. A claim whose TXT record is in place still fails while another project's verified
claim is vouched for by DNS too (FAILED_PRECONDITION): only someone who controls the host name's
DNS learns of it, and they decide by removing that project's record, after which the next
verification moves the host name to them."""

import re
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level, project_level
from services.projects import convert, dns_challenge
from services.projects.domain import access, cascade, events
from services.projects.store import domains as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("target_type", "target_id", "tls_enabled")
TARGET_TYPES = tuple(store.TARGET_TABLES)
MAX_DOMAIN_CHARS = 253

# The migration's check_domain_format: lower-case labels of letters, digits and inner hyphens, at
# least two of them, the last starting with a letter.
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TOP_LEVEL = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_domain(value: str) -> str:
    """The host name as stored: lower-case, without a trailing dot, internationalized names in
    their ASCII (IDNA) form; INVALID_ARGUMENT naming `domain` otherwise."""
    name = value.strip().lower()
    name = name.removesuffix(".")
    if not name:
        raise InvalidArgument("domain", "is required")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidArgument("domain", "is not a valid internationalized host name") from None
    if len(name) > MAX_DOMAIN_CHARS:
        raise InvalidArgument("domain", f"must be at most {MAX_DOMAIN_CHARS} characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise InvalidArgument("domain", "must be a fully qualified host name such as app.example.com")
    for label in labels:
        if not 1 <= len(label) <= 63:
            raise InvalidArgument("domain", "each dot-separated label must be 1-63 characters")
        if not _LABEL.match(label):
            raise InvalidArgument(
                "domain",
                f"label {label!r} may hold only letters, digits and hyphens, and not start or end with a hyphen",
            )
    if not _TOP_LEVEL.match(labels[-1]):
        raise InvalidArgument("domain", f"the top-level label {labels[-1]!r} must start with a letter")
    return name


def validate_target_type(target_type: str) -> str:
    if target_type not in TARGET_TYPES:
        raise InvalidArgument("target_type", f"must be one of {', '.join(TARGET_TYPES)}")
    return target_type


async def check_target(
    conn: asyncpg.Connection, project_id: uuid.UUID, target_type: str, target_id: uuid.UUID, field: str
) -> None:
    """The application or database `target_id` exists in the project and is live. One answer for
    an unknown id and one of another project, so nothing leaks about projects the caller cannot see."""
    row = await store.target(conn, target_type, target_id)
    if row is None or row["project_id"] != project_id:
        raise InvalidArgument(field, f"no {target_type} {target_id} in this project")
    if not row["live"]:
        raise InvalidArgument(field, f"{target_type} {target_id} is archived; restore it first")


def _not_found(domain_id: uuid.UUID) -> NotFound:
    return NotFound(f"domain {domain_id} not found")


async def _authorize(
    conn: asyncpg.Connection, caller: Caller, domain_id: uuid.UUID, needed: Level
) -> tuple[asyncpg.Record, Level]:
    """The domain and the caller's level on its project, once they hold `needed` there (NOT_FOUND
    below READ)."""
    row = await store.fetch(conn, domain_id)
    if row is None:
        raise _not_found(domain_id)
    project = await access.authorize(conn, caller, row["project_id"], needed, _not_found(domain_id))
    return row, project_level(caller, project["owner_id"], project["id"], project["team_role"])


async def authorize_domain(
    conn: asyncpg.Connection, caller: Caller, domain_id: uuid.UUID, needed: Level
) -> asyncpg.Record:
    """The domain, once the caller holds `needed` on its project (NOT_FOUND below READ)."""
    row, _ = await _authorize(conn, caller, domain_id, needed)
    return row


def shows_challenge(level: Level) -> bool:
    """Whether the caller sees the DNS challenge (the token): the project's writers do."""
    return level >= Level.WRITE


def _event(row) -> events_pb2.DomainChanged:
    # Without the challenge: the token is for the project's writers, not for every consumer.
    return events_pb2.DomainChanged(domain=convert.domain(row))


async def create_domain(
    pool: asyncpg.Pool,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    domain: str,
    target_type: str,
    target_id: uuid.UUID,
    tls_enabled: bool,
) -> asyncpg.Record:
    domain = normalize_domain(domain)
    target_type = validate_target_type(target_type)
    async with caller_transaction(pool, caller) as conn:
        await access.authorize_project(conn, caller, project_id, Level.WRITE)
        await check_target(conn, project_id, target_type, target_id, "target_id")
        row = await store.insert(
            conn,
            project_id=project_id,
            domain=domain,
            target_type=target_type,
            target_id=target_id,
            tls_enabled=tls_enabled,
        )
        await events.emit(conn, "domain", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_domain(pool: SessionPool, caller: Caller, domain_id: uuid.UUID) -> tuple[asyncpg.Record, bool]:
    """The domain and whether the caller sees its DNS challenge (shows_challenge)."""
    async with caller_reads(pool, caller) as conn:
        row, level = await _authorize(conn, caller, domain_id, Level.READ)
    return row, shows_challenge(level)


async def list_domains(
    pool: SessionPool, caller: Caller, project_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list, str, bool]:
    """A page of the project's domains, the next page's token, and whether the caller sees their
    DNS challenges (shows_challenge)."""
    page = parse_page(page_size, page_token, {"list": "domains", "project_id": str(project_id)})
    async with caller_reads(pool, caller) as conn:
        project = await access.authorize_project(conn, caller, project_id, Level.READ)
        rows = await store.list_for_project(
            conn, project_id, after=page.newest_first_after, limit=page.fetch_limit
        )
    level = project_level(caller, project["owner_id"], project["id"], project["team_role"])
    return *split_page(rows, page, newest_first_key), shows_challenge(level)


async def update_domain(
    pool: asyncpg.Pool, caller: Caller, domain_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    """`changes`: a subset of UPDATABLE_FIELDS. A new target is checked together with the target
    type it will have."""
    if "target_type" in changes:
        validate_target_type(changes["target_type"])
    async with caller_transaction(pool, caller) as conn:
        current = await authorize_domain(conn, caller, domain_id, Level.WRITE)
        if "target_type" in changes or "target_id" in changes:
            target_type = changes.get("target_type", current["target_type"])
            target_id = changes.get("target_id", current["target_id"])
            await check_target(conn, current["project_id"], target_type, target_id, "target_id")
        row = await store.update(conn, domain_id, changes)
        if row is None:
            raise _not_found(domain_id)
        await events.emit(conn, "domain", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


async def delete_domain(pool: asyncpg.Pool, caller: Caller, domain_id: uuid.UUID) -> None:
    """Deletes the domain and its certificates: a deleted event for each certificate, then the domain's."""
    async with caller_transaction(pool, caller) as conn:
        await authorize_domain(conn, caller, domain_id, Level.WRITE)
        children = await store.children(conn, domain_id)
        row = await store.delete(conn, domain_id)
        if row is None:
            raise _not_found(domain_id)
        await cascade.emit_deleted(conn, children, actor=caller.user_id)
        await events.emit(conn, "domain", "deleted", row["id"], _event(row), actor=caller.user_id)


async def verify_domain(
    pool: asyncpg.Pool, caller: Caller, domain_id: uuid.UUID, lookup: dns_challenge.TxtLookup
) -> asyncpg.Record:
    """Marks the domain verified once its DNS challenge is in place (WRITE). Already verified: as
    it is, without a lookup. FAILED_PRECONDITION while the TXT record is missing, or while another
    project's verified claim on the host name still has its own record there."""
    async with caller_transaction(pool, caller) as conn:
        current = await authorize_domain(conn, caller, domain_id, Level.WRITE)
    if current["verified_at"] is not None:
        return current
    # The lookup runs outside a transaction: a slow resolver holds no row nor connection.
    name = dns_challenge.record_name(current["domain"])
    values = await lookup.values(name)
    _require_challenge(current, values)
    async with caller_transaction(pool, caller) as conn:
        current = await _locked_host(conn, await authorize_domain(conn, caller, domain_id, Level.WRITE))
        if current["verified_at"] is not None:
            return current
        # The token may have changed since the lookup (the claim lost the host name meanwhile).
        _require_challenge(current, values)
        holder = await store.verified_claim(conn, current["domain"])
        if holder is not None:
            if dns_challenge.record_value(holder["verification_token"]) in values:
                raise FailedPrecondition(
                    f"domain {current['domain']} is verified for another project, whose TXT record "
                    f"{name} is in place too; remove that record at your DNS provider and verify again"
                )
            await _release(conn, holder, caller)
        row = await store.mark_verified(conn, domain_id, "dns")
        await events.emit(conn, "domain", "verified", row["id"], _event(row), actor=caller.user_id)
    return row


def _require_challenge(domain: asyncpg.Record, values: set[str]) -> None:
    expected = dns_challenge.record_value(domain["verification_token"])
    if expected not in values:
        raise FailedPrecondition(
            f"domain {domain['domain']} is not verified yet: no TXT record "
            f"{dns_challenge.record_name(domain['domain'])} with the value {expected} was found; add it "
            "at your DNS provider and verify again once it has propagated"
        )


async def mark_domain_verified(pool: asyncpg.Pool, caller: Caller, domain_id: uuid.UUID) -> asyncpg.Record:
    """A platform admin vouches for the domain without a DNS check. Another project's verified
    claim on the host name goes back to pending (the admin decides); already verified: as it is."""
    async with caller_transaction(pool, caller) as conn:
        current = await authorize_domain(conn, caller, domain_id, Level.READ)
        if not caller.is_admin or caller.read_only:
            raise PermissionDenied("only a platform admin may mark a domain verified; verify it through DNS")
        current = await _locked_host(conn, current)
        if current["verified_at"] is not None:
            return current
        holder = await store.verified_claim(conn, current["domain"])
        if holder is not None:
            await _release(conn, holder, caller)
        row = await store.mark_verified(conn, domain_id, "admin")
        if row is None:  # its project was deleted meanwhile (a read takes no lock on it)
            raise _not_found(domain_id)
        await events.emit(conn, "domain", "verified", row["id"], _event(row), actor=caller.user_id)
    return row


async def _locked_host(conn: asyncpg.Connection, domain: asyncpg.Record) -> asyncpg.Record:
    """The domain as it is once its host name's verifications are serialized (store.lock_host)."""
    await store.lock_host(conn, domain["domain"])
    row = await store.fetch(conn, domain["id"])
    if row is None:
        raise _not_found(domain["id"])
    return row


async def _release(conn: asyncpg.Connection, holder: asyncpg.Record, caller: Caller) -> None:
    """The host name moves to another claim: `holder`'s verification lapses (a fresh token, so an
    old record cannot win it back)."""
    row = await store.mark_pending(conn, holder["id"])
    await events.emit(conn, "domain", "unverified", row["id"], _event(row), actor=caller.user_id)
