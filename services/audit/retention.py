"""Archives the audit trail's months past the retention now, as the service's daily job does
(services/audit/domain/retention.py), and shows what went where.

    python -m services.audit.retention [--dry-run]

It connects as the audit service's role, with the service's settings (its DOCKYARD_SERVICE_SECRET_FILE,
DOCKYARD_AUDIT_RETENTION_MONTHS, DOCKYARD_AUDIT_ARCHIVE_DIR). --dry-run lists what would be archived
(partition, range, rows) and changes nothing. Exit status: 0 done, 1 an archive failed or the database
could not be used, 2 invalid settings.
"""

import argparse
import asyncio
import datetime
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dockyard_kit import config, db, service_secrets
from services.audit.domain import retention
from services.audit.settings import AuditSettings

SERVICE = "audit"


def summary(expired: list[retention.Expired], *, dry_run: bool, months: int) -> Table:
    verb = "would be archived" if dry_run else "archived"
    table = Table(title=f"Audit trail past its retention of {months} months: {verb}")
    table.add_column("partition", no_wrap=True)
    table.add_column("from")
    table.add_column("before")
    table.add_column("rows", justify="right")
    if not dry_run:
        table.add_column("archive")
    for part in expired:
        cells = [
            part.table,
            part.start.date().isoformat() if part.start else "(the start)",
            part.end.date().isoformat(),
            str(part.rows),
        ]
        if not dry_run:
            failed = f"[red]failed, nothing dropped:[/] {part.error}"
            cells.append(str(part.archive) if part.error is None else failed)
        table.add_row(*cells)
    return table


async def run(settings: AuditSettings, *, dry_run: bool) -> int:
    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    months = settings.DOCKYARD_AUDIT_RETENTION_MONTHS
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console)
    tasks: dict[str, int] = {}

    def advance(part: retention.Expired, written: int) -> None:
        if part.table not in tasks:
            tasks[part.table] = progress.add_task(part.table, total=part.rows)
        progress.update(tasks[part.table], completed=written)

    try:
        pool = await db.create_pool(settings, SERVICE)
    except db.DATABASE_ERRORS as exc:
        errors.print(f"[red]error:[/] cannot connect as {db.role_name(SERVICE)}: {exc}", highlight=False)
        return 1
    try:
        with progress:
            expired = await retention.run_once(
                pool,
                settings.audit_archive_dir(),
                months,
                now=datetime.datetime.now(datetime.UTC),
                dry_run=dry_run,
                progress=advance,
            )
    except db.DATABASE_ERRORS as exc:
        errors.print(f"[red]error:[/] the audit database is not usable: {exc}", highlight=False)
        return 1
    finally:
        await pool.close()
    console.print(summary(expired, dry_run=dry_run, months=months))
    failed = [part for part in expired if part.error is not None]
    rows = sum(part.rows for part in expired if part.error is None)
    verb = "Would archive" if dry_run else "Archived"
    console.print(f"{verb} {rows} rows to {settings.audit_archive_dir()}.", highlight=False)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.audit.retention",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be archived; change nothing")
    args = parser.parse_args(argv)
    settings = config.load(AuditSettings)
    try:
        service_secrets.required(settings, SERVICE)
    except config.ConfigError as exc:
        config.exit_invalid(exc)
    sys.exit(asyncio.run(run(settings, dry_run=args.dry_run)))


if __name__ == "__main__":
    main()
