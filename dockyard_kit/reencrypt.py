"""Re-encrypts every secret the services store (the columns each registers in
services/<name>/sealed_columns.py: for projects, secret env var values, git webhook secrets,
certificate private keys and database connection strings; for identity, its JWT signing keys) under
each service's key for the current master secret.

    python -m dockyard_kit.reencrypt [--service NAME ...] [--batch-size N] [--dry-run]

Each service seals under a key of its own that the bootstrap step derives from the master secret
(dockyard_kit/service_secrets.py). Rotating the master secret (DOCKYARD_SECRET_KEY / _FILE):

  1. Put the old secret in DOCKYARD_PREVIOUS_SECRET_KEYS_FILE (one secret per line; keep any older
     ones still listed) and the new one in DOCKYARD_SECRET_KEY(_FILE).
  2. Run `python -m dockyard_kit.bootstrap --skip-reseal` with these settings: it resets the
     services' database role passwords and writes each service's secrets file with its new keys and
     (to decrypt only) its keys under the old secrets. Restart every service with its new file.
  3. Run this command with the same settings. For each service with encrypted columns (all of them
     unless --service names some) it connects as that service's role, walks each encrypted column
     by id in batches (one transaction per batch, its rows locked meanwhile) and re-seals every
     value not yet under the service's current key. Services may keep running: a row is either
     untouched or re-sealed, and both read fine.
  4. Once it reports every value current, the old secret can leave DOCKYARD_PREVIOUS_SECRET_KEYS_FILE;
     run the bootstrap again and restart the services, so their files drop the old keys.

Running it again is harmless: values already under the current key are left alone, so a second run
re-encrypts nothing. A value sealed under a master key the settings do not hold stops the command
with exit status 1, naming the key id, the column and the row; the batch it was in is rolled back
and batches before it stay done, so after fixing the settings a new run finishes the work. Rows the
schema refuses to update (expired certificates: their UPDATE is refused past expiry) are skipped:
their values stay readable only while their key stays in the ring.

--dry-run reads and decrypts everything the same way and reports what a run would re-encrypt,
without writing. Exit status: 0 done, 1 a value could not be re-encrypted or a database could
not be reached, 2 invalid settings.
"""

import argparse
import asyncio
import base64
import dataclasses
import sys
import uuid
from collections.abc import Callable

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dockyard_kit import config, db, registry, service_secrets
from dockyard_kit.crypto import DecryptionError, key_id_of
from dockyard_kit.sealing import SealedColumn, Sealer, registered_columns

DEFAULT_BATCH_SIZE = 500


class CannotReencrypt(Exception):
    """A value the current key ring cannot open; the message says which and why."""


@dataclasses.dataclass
class ColumnReport:
    service: str
    sealed_column: SealedColumn
    sealed: int
    skipped: int
    reencrypted: int = 0
    current: int = 0

    @property
    def name(self) -> str:
        return f"{self.service}.{self.sealed_column.table}.{self.sealed_column.column}"


# -- SQL: a keyset walk by id over one column's sealed values ---------------------------------------
# now() is the transaction's start time in both the walk and any CHECK a rewritable_rows condition
# mirrors, so the two agree (on what has expired, say).


def _where(sealed_column: SealedColumn, *, rewritable: bool) -> str:
    conditions = [sealed_column.sealed_rows]
    if rewritable:
        conditions.append(sealed_column.rewritable_rows)
    return " AND ".join(f"({condition})" for condition in conditions)


async def column_exists(conn: asyncpg.Connection, sealed_column: SealedColumn) -> bool:
    """Whether the schema has the column yet (before the service's first migration it has not)."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
            sealed_column.table,
            sealed_column.column,
        )
    )


async def count_sealed(conn: asyncpg.Connection, sealed_column: SealedColumn) -> tuple[int, int]:
    """(sealed values, of which skipped: those the command cannot rewrite) in one column."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS sealed, count(*) FILTER (WHERE NOT ({_where(sealed_column, rewritable=True)}))"
        f" AS skipped FROM {sealed_column.table} WHERE {_where(sealed_column, rewritable=False)}"
    )
    return row["sealed"], row["skipped"]


async def fetch_batch(
    conn: asyncpg.Connection,
    sealed_column: SealedColumn,
    *,
    after: uuid.UUID | str | None,
    limit: int,
    lock: bool,
) -> list[asyncpg.Record]:
    """The next `limit` rewritable sealed values (id, value) after id `after`, in id order; with
    `lock`, locked until the transaction ends so that no writer changes them meanwhile."""
    id_column, id_type = sealed_column.id_column, sealed_column.id_type
    return await conn.fetch(
        f"SELECT {id_column} AS id, {sealed_column.column} AS value FROM {sealed_column.table}"
        f" WHERE {_where(sealed_column, rewritable=True)} AND ($1::{id_type} IS NULL OR {id_column} > $1)"
        f" ORDER BY {id_column} LIMIT $2{' FOR UPDATE' if lock else ''}",
        after,
        limit,
    )


async def write_batch(
    conn: asyncpg.Connection,
    sealed_column: SealedColumn,
    values: list[tuple[uuid.UUID | str, str | bytes]],
    key_id: str,
) -> None:
    """Writes re-sealed values (and the key id beside them, if the table keeps one); updated_at
    stays: the value it holds has not changed."""
    assignments = f"{sealed_column.column} = $2"
    if sealed_column.key_id_column:
        assignments += f", {sealed_column.key_id_column} = $3"
        values = [(row_id, value, key_id) for row_id, value in values]
    await conn.executemany(
        f"UPDATE {sealed_column.table} SET {assignments} WHERE {sealed_column.id_column} = $1", values
    )


# -- the walk -----------------------------------------------------------------------------------


def _as_text(sealed_column: SealedColumn, value: str | bytes) -> str:
    """A stored value as Sealer takes it (base64 text)."""
    return base64.b64encode(value).decode("ascii") if sealed_column.binary else value


def _as_stored(sealed_column: SealedColumn, value: str) -> str | bytes:
    return base64.b64decode(value) if sealed_column.binary else value


def _why_unreadable(sealer: Sealer, stored: str) -> str:
    try:
        key_id = key_id_of(base64.b64decode(stored))
    except (ValueError, DecryptionError):
        return "it is not a Dockyard ciphertext"
    if key_id not in sealer.key_ring.key_ids:
        return (
            f"it is sealed under key {key_id}, which derives neither from the current master secret nor"
            " from one in DOCKYARD_PREVIOUS_SECRET_KEYS_FILE; add that secret there and run again"
        )
    return f"it does not authenticate under key {key_id} (damaged, or copied from another row)"


async def reencrypt_column(
    conn: asyncpg.Connection,
    sealer: Sealer,
    report: ColumnReport,
    *,
    batch_size: int,
    dry_run: bool,
    advance: Callable[[int], None],
) -> None:
    """Walks one column by id, one transaction per batch; raises CannotReencrypt (rolling that
    batch back) at the first value the key ring cannot open."""
    sealed_column = report.sealed_column
    table, column = sealed_column.table, sealed_column.column
    after: uuid.UUID | str | None = None
    while True:
        async with conn.transaction():
            rows = await fetch_batch(
                conn, report.sealed_column, after=after, limit=batch_size, lock=not dry_run
            )
            resealed, current = [], 0
            for row in rows:
                stored = _as_text(sealed_column, row["value"])
                try:
                    moved = sealer.reseal(table, column, row["id"], stored)
                except (ValueError, DecryptionError):
                    reason = _why_unreadable(sealer, stored)
                    raise CannotReencrypt(f"{report.name} of row {row['id']}: {reason}") from None
                if moved is None:
                    current += 1
                else:
                    resealed.append((row["id"], _as_stored(sealed_column, moved)))
            if resealed and not dry_run:
                await write_batch(conn, sealed_column, resealed, sealer.key_ring.current_key_id)
        if not rows:
            return
        report.reencrypted += len(resealed)
        report.current += current
        after = rows[-1]["id"]
        advance(len(rows))


async def reencrypt_service(
    settings: config.Settings,
    service: str,
    columns: tuple[SealedColumn, ...],
    *,
    batch_size: int,
    dry_run: bool,
    console: Console,
) -> list[ColumnReport]:
    """Every registered column of one service that its schema has, as that service's database role."""
    sealer = Sealer(service, service_secrets.resealing_key_ring(settings, service))
    conn = await asyncpg.connect(
        **db.service_connection(settings, service),
        timeout=settings.DOCKYARD_DB_CONNECT_TIMEOUT,
        server_settings={"search_path": service, "application_name": "dockyard-reencrypt"},
    )
    reports = []
    try:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        )
        with progress:
            for sealed_column in columns:
                if not await column_exists(conn, sealed_column):
                    continue
                sealed, skipped = await count_sealed(conn, sealed_column)
                report = ColumnReport(service, sealed_column, sealed=sealed, skipped=skipped)
                reports.append(report)
                task = progress.add_task(report.name, total=sealed - skipped)
                await reencrypt_column(
                    conn,
                    sealer,
                    report,
                    batch_size=batch_size,
                    dry_run=dry_run,
                    advance=lambda done, task=task: progress.advance(task, done),
                )
    finally:
        await conn.close()
    return reports


def summary(service: str, reports: list[ColumnReport], key_id: str, *, dry_run: bool) -> Table:
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    skipped = [report.sealed_column.skipped_rows for report in reports if report.sealed_column.skipped_rows]
    table = Table(
        title=f"Sealed values of the {service} service, its key {key_id}",
        caption=f"skipped: {'; '.join(skipped)}" if skipped else None,
    )
    table.add_column("column", no_wrap=True)
    for heading in ("rows", verb, "already current", "skipped"):
        table.add_column(heading, justify="right")
    for report in reports:
        table.add_row(
            f"{report.sealed_column.table}.{report.sealed_column.column}",
            str(report.sealed),
            str(report.reencrypted),
            str(report.current),
            str(report.skipped),
        )
    return table


def services_with_columns(names: list[str] | None) -> dict[str, tuple[SealedColumn, ...]]:
    """service -> its registered columns, for the services named (all of them when None) that
    register some."""
    found = {}
    for name in names or registry.SERVICE_NAMES:
        columns = registered_columns(name)
        if columns:
            found[name] = columns
    return found


async def run(settings: config.Settings, services: dict, *, batch_size: int, dry_run: bool) -> int:
    # soft_wrap: key ids and row ids are never broken across lines.
    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    total = moved = 0
    for service, columns in services.items():
        key_id = service_secrets.resealing_key_ring(settings, service).current_key_id
        try:
            reports = await reencrypt_service(
                settings, service, columns, batch_size=batch_size, dry_run=dry_run, console=console
            )
        except CannotReencrypt as exc:
            errors.print(f"[red]error:[/] cannot re-encrypt {exc}", highlight=False)
            return 1
        except db.DATABASE_ERRORS as exc:
            errors.print(
                f"[red]error:[/] the {service} database is not usable as role {db.role_name(service)}: {exc}"
                "\n(its password derives from the current master secret: run `python -m dockyard_kit.bootstrap`"
                " with the new secret first, so that it resets it)",
                highlight=False,
            )
            return 1
        console.print(summary(service, reports, key_id, dry_run=dry_run))
        total += sum(report.sealed for report in reports)
        moved += sum(report.reencrypted for report in reports)
    console.print(
        f"{'Would re-encrypt' if dry_run else 'Re-encrypted'} {moved} of {total} sealed values"
        " under each service's current key.",
        highlight=False,
    )
    return 0


def _batch_size(value: str) -> int:
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dockyard_kit.reencrypt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--service",
        action="append",
        choices=registry.SERVICE_NAMES,
        help="only this service's columns (repeatable; default: every service that registers some)",
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per transaction (default {DEFAULT_BATCH_SIZE}); their rows stay locked until it commits",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="decrypt and count what would be re-encrypted; write nothing"
    )
    args = parser.parse_args(argv)
    services = services_with_columns(args.service)
    if args.service and set(args.service) - set(services):
        parser.error(
            f"no encrypted columns registered by {', '.join(sorted(set(args.service) - set(services)))}"
        )
    settings = config.load()
    sys.exit(asyncio.run(run(settings, services, batch_size=args.batch_size, dry_run=args.dry_run)))


if __name__ == "__main__":
    main()
