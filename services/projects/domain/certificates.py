"""TLS certificates of a domain. Each upload is checked (domain/pem.py); the private key is stored
sealed (dockyard_kit/sealing.py) and shown masked everywhere but RevealCertificatePrivateKey, which needs
manager rights and is recorded by a secret.revealed event. Access rules: domain/access.py."""

import datetime
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from dockyard_kit.pagination import newest_first_key, parse_page, split_page
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import Sealer
from services.projects import convert
from services.projects.domain import access, events, pem
from services.projects.domain.domains import authorize_domain
from services.projects.store import certificates as store
from services.projects.store.session import caller_transaction

UPDATABLE_FIELDS = ("certificate", "private_key", "issuer")
# A renewal replaces both: a new certificate without its key (or the reverse) cannot be checked.
RENEWAL_FIELDS = ("certificate", "private_key")
DEFAULT_WITHIN_DAYS = 30
MAX_WITHIN_DAYS = 3650
SEALED_COLUMN = ("certificates", "private_key")


def validate_issuer(issuer: str) -> str:
    issuer = issuer.strip()
    if len(issuer) > pem.MAX_ISSUER_CHARS:
        raise InvalidArgument("issuer", f"must be at most {pem.MAX_ISSUER_CHARS} characters")
    return issuer


def validate_within_days(within_days: int) -> int:
    within_days = within_days or DEFAULT_WITHIN_DAYS
    if not 1 <= within_days <= MAX_WITHIN_DAYS:
        raise InvalidArgument("within_days", f"must be 1-{MAX_WITHIN_DAYS} (0 means {DEFAULT_WITHIN_DAYS})")
    return within_days


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _not_found(certificate_id: uuid.UUID) -> NotFound:
    return NotFound(f"certificate {certificate_id} not found")


async def _authorize_certificate(
    conn: asyncpg.Connection, caller: Caller, certificate_id: uuid.UUID, needed: Level
) -> asyncpg.Record:
    row = await store.fetch(conn, certificate_id)
    if row is None:
        raise _not_found(certificate_id)
    await access.authorize(conn, caller, row["project_id"], needed, _not_found(certificate_id))
    return row


def _event(row) -> events_pb2.CertificateChanged:
    return events_pb2.CertificateChanged(certificate=convert.certificate(row))


async def create_certificate(
    pool: asyncpg.Pool,
    sealer: Sealer,
    caller: Caller,
    domain_id: uuid.UUID,
    *,
    certificate: str,
    private_key: str,
    issuer: str,
) -> asyncpg.Record:
    issuer = validate_issuer(issuer)
    async with caller_transaction(pool, caller) as conn:
        domain = await authorize_domain(conn, caller, domain_id, Level.WRITE)
        checked = pem.check(certificate, private_key, domain["domain"], _now())
        certificate_id = uuid.uuid4()
        row = await store.insert(
            conn,
            certificate_id,
            domain_id,
            issuer=issuer or checked.issuer,
            certificate=certificate,
            sealed_private_key=sealer.seal(*SEALED_COLUMN, certificate_id, private_key),
            expires_at=checked.expires_at,
        )
        await events.emit(conn, "certificate", "created", row["id"], _event(row), actor=caller.user_id)
    return row


async def get_certificate(pool: asyncpg.Pool, caller: Caller, certificate_id: uuid.UUID) -> asyncpg.Record:
    async with caller_transaction(pool, caller) as conn:
        return await _authorize_certificate(conn, caller, certificate_id, Level.READ)


async def list_certificates(
    pool: asyncpg.Pool, caller: Caller, domain_id: uuid.UUID, *, page_size: int, page_token: str
) -> tuple[list, str]:
    page = parse_page(page_size, page_token, {"list": "certificates", "domain_id": str(domain_id)})
    async with caller_transaction(pool, caller) as conn:
        await authorize_domain(conn, caller, domain_id, Level.READ)
        rows = await store.list_for_domain(
            conn, domain_id, after=page.newest_first_after, limit=page.fetch_limit
        )
    return split_page(rows, page, newest_first_key)


def _soonest_first_key(row) -> str:
    # The same "time|id" shape as newest_first_key, so page.newest_first_after reads it back.
    return f"{row['expires_at'].isoformat()}|{row['id']}"


async def list_expiring(
    pool: asyncpg.Pool, caller: Caller, *, within_days: int, page_size: int, page_token: str
) -> tuple[list, str]:
    """Certificates expiring within `within_days` days (already expired ones first) in every
    project the caller can see, soonest first."""
    within_days = validate_within_days(within_days)
    page = parse_page(page_size, page_token, {"list": "expiring_certificates", "within_days": within_days})
    async with caller_transaction(pool, caller) as conn:
        rows = await store.list_expiring(
            conn,
            caller.user_id,
            all_projects=caller.is_admin,
            limited_to=[uuid.UUID(p) for p in caller.project_ids] if caller.project_limited else None,
            before=_now() + datetime.timedelta(days=within_days),
            after=page.newest_first_after,
            limit=page.fetch_limit,
        )
    return split_page(rows, page, _soonest_first_key)


async def update_certificate(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, certificate_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    """`changes`: a subset of UPDATABLE_FIELDS. A renewal (certificate and private_key, together)
    is checked like a new upload; its issuer is the new certificate's unless `issuer` is given."""
    renewing = [field for field in RENEWAL_FIELDS if field in changes]
    if len(renewing) == 1:
        missing = next(field for field in RENEWAL_FIELDS if field not in changes)
        raise InvalidArgument(
            missing, f"a renewal replaces certificate and private_key together; send {missing} too"
        )
    issuer = validate_issuer(changes.get("issuer", ""))
    async with caller_transaction(pool, caller) as conn:
        current = await _authorize_certificate(conn, caller, certificate_id, Level.WRITE)
        columns = {}
        if renewing:
            checked = pem.check(changes["certificate"], changes["private_key"], current["domain"], _now())
            columns = {
                "certificate": changes["certificate"],
                "private_key": sealer.seal(*SEALED_COLUMN, certificate_id, changes["private_key"]),
                "expires_at": checked.expires_at,
                "issuer": issuer or checked.issuer,
            }
        else:
            if current["expires_at"] <= _now():
                raise FailedPrecondition(
                    f"certificate {certificate_id} has expired; renew it (certificate and private_key)"
                )
            columns["issuer"] = issuer or pem.issuer_name(pem.load_chain(current["certificate"])[0])
        row = await store.update(conn, certificate_id, columns)
        if row is None:
            raise _not_found(certificate_id)
        await events.emit(conn, "certificate", "updated", row["id"], _event(row), actor=caller.user_id)
    return row


async def delete_certificate(pool: asyncpg.Pool, caller: Caller, certificate_id: uuid.UUID) -> None:
    async with caller_transaction(pool, caller) as conn:
        await _authorize_certificate(conn, caller, certificate_id, Level.WRITE)
        row = await store.delete(conn, certificate_id)
        if row is None:
            raise _not_found(certificate_id)
        await events.emit(conn, "certificate", "deleted", row["id"], _event(row), actor=caller.user_id)


async def reveal_private_key(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, certificate_id: uuid.UUID
) -> tuple[asyncpg.Record, str]:
    """The certificate and its private key in clear, for a manager of the project; the reveal is an
    event (who asked, what)."""
    async with caller_transaction(pool, caller) as conn:
        row = await _authorize_certificate(conn, caller, certificate_id, Level.MANAGE)
        private_key = sealer.unseal(*SEALED_COLUMN, certificate_id, row["private_key"])
        revealed = events_pb2.SecretRevealed(
            project_id=str(row["project_id"]),
            resource_type="certificate",
            resource_id=str(certificate_id),
            what="private_key",
        )
        await events.emit(conn, "secret", "revealed", certificate_id, revealed, actor=caller.user_id)
    return row, private_key
