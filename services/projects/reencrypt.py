"""Re-encrypts every secret the projects service stores (secret env var values, git webhook secrets,
certificate private keys, database connection strings) under the current master key.

    python -m services.projects.reencrypt [--batch-size N] [--dry-run]

Rotating the master secret (DOCKYARD_SECRET_KEY / DOCKYARD_SECRET_KEY_FILE):

  1. Put the old secret in DOCKYARD_PREVIOUS_SECRET_KEYS_FILE (one secret per line; keep any older
     ones still listed) and the new one in DOCKYARD_SECRET_KEY(_FILE).
  2. Restart every service with these settings. They seal new values under the new key and still
     read values sealed under the old ones; at start-up they also reset their database roles'
     passwords, which derive from the master secret.
  3. Run this command with the same settings. It connects as the projects role, walks each
     encrypted column by id in batches (one transaction per batch, its rows locked meanwhile) and
     re-seals every value not yet under the current key. Services may keep running: a row is
     either untouched or re-sealed, and both read fine.
  4. Once it reports every value current, the old secret can leave DOCKYARD_PREVIOUS_SECRET_KEYS_FILE.

Running it again is harmless: values already under the current key are left alone, so a second run
re-encrypts nothing. A value sealed under a master key the settings do not hold stops the command
with exit status 1, naming the key id, the column and the row; the batch it was in is rolled back
and batches before it stay done, so after fixing the settings a new run finishes the work. Expired
certificates cannot be updated (the schema refuses any UPDATE of a certificate past its expiry):
their private keys are skipped and stay readable only while their key stays in the ring.

--dry-run reads and decrypts everything the same way and reports what a run would re-encrypt,
without writing. Exit status: 0 done, 1 a value could not be re-encrypted or the database could
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

from dockyard_kit import config, db
from dockyard_kit.crypto import DecryptionError, KeyRing, key_id_of
from services.projects.domain.sealing import ENCRYPTED_COLUMNS, Sealer
from services.projects.store import reencrypt as store

SERVICE = "projects"
DEFAULT_BATCH_SIZE = 500


class CannotReencrypt(Exception):
    """A value the current key ring cannot open; the message says which and why."""


@dataclasses.dataclass
class ColumnReport:
    table: str
    column: str
    sealed: int
    skipped: int
    reencrypted: int = 0
    current: int = 0

    @property
    def name(self) -> str:
        return f"{SERVICE}.{self.table}.{self.column}"


def _why_unreadable(sealer: Sealer, stored: str) -> str:
    try:
        key_id = key_id_of(base64.b64decode(stored))
    except (ValueError, DecryptionError):
        return "it is not a Dockyard ciphertext"
    if key_id not in sealer.key_ring.key_ids:
        return (
            f"it is sealed under master key {key_id}, which is neither the current master secret nor"
            " in DOCKYARD_PREVIOUS_SECRET_KEYS_FILE; add that secret there and run again"
        )
    return f"it does not authenticate under master key {key_id} (damaged, or copied from another row)"


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
    table, column = report.table, report.column
    after: uuid.UUID | None = None
    while True:
        async with conn.transaction():
            rows = await store.batch(conn, table, column, after=after, limit=batch_size, lock=not dry_run)
            resealed, current = [], 0
            for row in rows:
                try:
                    moved = sealer.reseal(table, column, row["id"], row["value"])
                except (ValueError, DecryptionError):
                    reason = _why_unreadable(sealer, row["value"])
                    raise CannotReencrypt(f"{report.name} of row {row['id']}: {reason}") from None
                if moved is None:
                    current += 1
                else:
                    resealed.append((row["id"], moved))
            if resealed and not dry_run:
                await store.write(conn, table, column, resealed)
        if not rows:
            return
        report.reencrypted += len(resealed)
        report.current += current
        after = rows[-1]["id"]
        advance(len(rows))


async def reencrypt(
    settings: config.Settings, *, batch_size: int, dry_run: bool, console: Console
) -> list[ColumnReport]:
    sealer = Sealer(KeyRing.from_settings(settings))
    conn = await asyncpg.connect(
        **db.service_connection(settings, SERVICE),
        timeout=settings.DOCKYARD_DB_CONNECT_TIMEOUT,
        server_settings={"search_path": SERVICE, "application_name": "dockyard-reencrypt"},
    )
    reports = []
    try:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        )
        with progress:
            for table, column in ENCRYPTED_COLUMNS:
                sealed, skipped = await store.count(conn, table, column)
                report = ColumnReport(table, column, sealed=sealed, skipped=skipped)
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


def summary(reports: list[ColumnReport], key_id: str, *, dry_run: bool) -> Table:
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    table = Table(
        title=f"Sealed values of the projects service, master key {key_id}",
        caption="skipped: expired certificates (the schema refuses to update them)",
    )
    table.add_column("column", no_wrap=True)
    for heading in ("rows", verb, "already current", "skipped"):
        table.add_column(heading, justify="right")
    for report in reports:
        table.add_row(
            f"{report.table}.{report.column}",
            str(report.sealed),
            str(report.reencrypted),
            str(report.current),
            str(report.skipped),
        )
    return table


def _batch_size(value: str) -> int:
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return size


async def run(settings: config.Settings, *, batch_size: int, dry_run: bool) -> int:
    # soft_wrap: key ids and row ids are never broken across lines.
    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    key_id = KeyRing.from_settings(settings).current_key_id
    try:
        reports = await reencrypt(settings, batch_size=batch_size, dry_run=dry_run, console=console)
    except CannotReencrypt as exc:
        errors.print(f"[red]error:[/] cannot re-encrypt {exc}", highlight=False)
        return 1
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        errors.print(
            f"[red]error:[/] the projects database is not usable as role {db.role_name(SERVICE)}: {exc}"
            "\n(its password derives from the current master secret: start the services with the new"
            " secret first, so that they reset it and migrate the schema)",
            highlight=False,
        )
        return 1
    console.print(summary(reports, key_id, dry_run=dry_run))
    total = sum(report.sealed for report in reports)
    moved = sum(report.reencrypted for report in reports)
    console.print(
        f"{'Would re-encrypt' if dry_run else 'Re-encrypted'} {moved} of {total} sealed values"
        f" under master key {key_id}.",
        highlight=False,
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.projects.reencrypt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    settings = config.load()
    sys.exit(asyncio.run(run(settings, batch_size=args.batch_size, dry_run=args.dry_run)))


if __name__ == "__main__":
    main()
