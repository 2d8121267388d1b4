"""Retention of the audit trail: the months older than the retention leave the database for an
archive, and only once the archive is proven to hold them.

Each month partition whose whole range is older than the retention is exported to
<archive>/audit_logs_YYYY_MM.ndjson.gz (one JSON object of every column per line, streamed through
a server-side cursor) with a sha256 file beside it (`sha256sum -c` reads it). The export is written
under a temporary name, read back (every line decompressed and counted against the partition's row
count, the checksum recomputed), and only then renamed, and the partition detached and dropped. All of
it runs in one transaction that keeps writers off the partition, so what is dropped is what was
archived. Rows of the default partition older than the retention go the same way, into
audit_logs_default_<time>.ndjson.gz, and are then deleted. An archive that fails (a directory that
cannot be written, a read-back that disagrees) drops nothing and is reported.

An archived line goes back with
`INSERT INTO audit.audit_logs SELECT * FROM json_populate_record(NULL::audit.audit_logs, '<line>')`.
"""

import asyncio
import dataclasses
import datetime
import gzip
import hashlib
import logging
import os
import pathlib
from collections.abc import Callable

import asyncpg

from dockyard_kit.db import DATABASE_ERRORS
from services.audit.settings import AuditSettings
from services.audit.store import partitions

log = logging.getLogger("dockyard.audit.retention")

ARCHIVE_SUFFIX = ".ndjson.gz"


class ArchiveFailed(Exception):
    """The archive could not be written or did not read back as written; nothing was dropped."""


@dataclasses.dataclass
class Expired:
    """A part of the trail past the retention: a month partition, or the default's old rows."""

    table: str
    # The range it covers; start is None for the default partition's rows (all before `end`).
    start: datetime.datetime | None
    end: datetime.datetime
    rows: int = 0
    archive: pathlib.Path | None = None
    error: str | None = None

    @property
    def whole_partition(self) -> bool:
        return self.table != partitions.DEFAULT_PARTITION

    def archive_name(self, now: datetime.datetime) -> str:
        if self.whole_partition:
            return self.table + ARCHIVE_SUFFIX
        return f"{self.table}_{now:%Y%m%dT%H%M%SZ}{ARCHIVE_SUFFIX}"


# Told the rows written so far of one part (the command's progress bars).
Progress = Callable[[Expired, int], None]


def cutoff(now: datetime.datetime, retention_months: int) -> datetime.datetime:
    """`now` that many months back (the same day, or the month's last when it has fewer days)."""
    utc = now.astimezone(datetime.UTC)
    first = partitions.add_months(partitions.month_start(utc), -retention_months)
    following = partitions.add_months(first, 1)
    last_day = (following - datetime.timedelta(days=1)).day
    return utc.replace(year=first.year, month=first.month, day=min(utc.day, last_day))


async def find_expired(conn: asyncpg.Connection, before: datetime.datetime) -> list[Expired]:
    """What a run would archive, with exact row counts: the month partitions ending by `before`, then
    the default partition's rows older than it (when it has any)."""
    found = [
        Expired(partition.name, partition.start, partition.end)
        for partition in await partitions.list_partitions(conn)
        if partition.end is not None and partition.end <= before
    ]
    found.append(Expired(partitions.DEFAULT_PARTITION, None, before))
    for expired in found:
        expired.rows = await partitions.count_rows(conn, expired.table, _rows_before(expired))
    return [expired for expired in found if expired.whole_partition or expired.rows]


def _rows_before(expired: Expired) -> datetime.datetime | None:
    return None if expired.whole_partition else expired.end


async def run_once(
    pool: asyncpg.Pool,
    archive_dir: pathlib.Path,
    retention_months: int,
    *,
    now: datetime.datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[Expired]:
    """Archives and drops what is past the retention (or, with dry_run, only lists it). A part whose
    archive failed carries its error and is left in place; the others go on."""
    before = cutoff(now, retention_months)
    async with pool.acquire() as conn:
        expired = await find_expired(conn, before)
    if dry_run:
        return expired
    for part in expired:
        try:
            await _archive_and_remove(pool, part, archive_dir, now, progress)
        # The database's refusals too (a lock not had in time): the transaction rolled back.
        except (ArchiveFailed, OSError, asyncpg.PostgresError) as exc:
            part.error = str(exc)
            log.error(
                "audit archive failed; nothing dropped", extra={"table": part.table, "error": part.error}
            )
    return expired


async def _archive_and_remove(
    pool: asyncpg.Pool,
    part: Expired,
    archive_dir: pathlib.Path,
    now: datetime.datetime,
    progress: Progress | None,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await partitions.lock_maintenance(conn)
        if not await partitions.exists(conn, part.table):
            part.error = "dropped meanwhile by another run"
            return
        await partitions.lock_for_archive(conn, part.table)
        # Counted again under the lock: the number the archive must hold, and that is removed.
        part.rows = await partitions.count_rows(conn, part.table, _rows_before(part))
        part.archive = await _write_archive(conn, part, archive_dir / part.archive_name(now), progress)
        if part.whole_partition:
            await partitions.drop_partition(conn, part.table)
        else:
            deleted = await partitions.delete_default_rows(conn, part.end)
            if deleted != part.rows:
                raise ArchiveFailed(f"{deleted} rows to delete, {part.rows} archived")
    log.info("audit archived", extra={"table": part.table, "rows": part.rows, "archive": str(part.archive)})


async def _write_archive(
    conn: asyncpg.Connection, part: Expired, target: pathlib.Path, progress: Progress | None
) -> pathlib.Path:
    """Writes, reads back, then renames into place the archive and its checksum file. The file work
    (compressing, above all) runs off the event loop, which serves RPCs meanwhile."""
    archive = await asyncio.to_thread(_ArchiveFile, target, replace=part.whole_partition)
    try:
        written = 0
        async for lines in partitions.stream_rows(conn, part.table, _rows_before(part)):
            await asyncio.to_thread(archive.write, lines)
            written += len(lines)
            if progress is not None:
                progress(part, written)
        sha256 = await asyncio.to_thread(archive.finish)
        lines, read_sha256 = await asyncio.to_thread(read_back, archive.partial)
        if lines != part.rows or read_sha256 != sha256:
            raise ArchiveFailed(
                f"{archive.partial} reads back as {lines} rows with sha256 {read_sha256}; "
                f"{part.rows} rows with sha256 {sha256} were written"
            )
        await asyncio.to_thread(archive.publish, sha256)
    finally:
        await asyncio.to_thread(archive.discard)
    return target


class _ArchiveFile:
    """A gzip'd NDJSON archive being written under a temporary name beside `target`, hashed as it is
    written. A month's archive may replace one of the same, still undropped, partition (a run that
    failed after its rename); a default partition's never replaces one (its rows left the database)."""

    def __init__(self, target: pathlib.Path, *, replace: bool) -> None:
        if not replace and target.exists():
            raise ArchiveFailed(f"{target} exists already")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.partial = target.with_name(target.name + ".partial")
        self._raw = open(self.partial, "wb")
        self._hashed = _HashingFile(self._raw)
        name_inside = target.name.removesuffix(".gz")
        self._gzip = gzip.GzipFile(filename=name_inside, mode="wb", fileobj=self._hashed)

    def write(self, lines: list[str]) -> None:
        self._gzip.write("".join(line + "\n" for line in lines).encode())

    def finish(self) -> str:
        """Closes the file, on disk; its sha256."""
        self._gzip.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        return self._hashed.hexdigest()

    def publish(self, sha256: str) -> None:
        checksum = self.target.with_name(self.target.name + ".sha256")
        checksum.write_text(f"{sha256}  {self.target.name}\n")
        self.partial.replace(self.target)
        _sync_directory(self.target.parent)

    def discard(self) -> None:
        """What is left of an archive that did not make it (nothing, once published)."""
        self._gzip.close()
        self._raw.close()
        self.partial.unlink(missing_ok=True)


def read_back(path: pathlib.Path) -> tuple[int, str]:
    """The lines of a gzip'd NDJSON file (decompressed: its CRC is checked at the end) and the sha256
    of the file as stored."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    with gzip.open(path, "rb") as gz:
        lines = sum(1 for _ in gz)
    return lines, digest.hexdigest()


class _HashingFile:
    """A write-only file that hashes what passes through it."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _sync_directory(directory: pathlib.Path) -> None:
    """The rename is durable before the rows it holds are dropped."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the service's jobs -----------------------------------------------------------------------------


async def prepare_partitions(pool: asyncpg.Pool, months_ahead: int = 2) -> list[str]:
    """At start-up: this month's partition and the next ones, before the first entry is written."""
    async with pool.acquire() as conn:
        return await partitions.ensure_partitions(conn, datetime.datetime.now(datetime.UTC), months_ahead)


async def run_retention(
    pool_provider: Callable[[], asyncpg.Pool], settings: AuditSettings, interval: float
) -> None:
    """Every `interval` seconds (the first run at once): the coming months' partitions, then
    retention (each part archived or failed is logged). A run that fails is retried at the next."""
    while True:
        try:
            pool = pool_provider()
            await prepare_partitions(pool)
            await run_once(
                pool,
                settings.audit_archive_dir(),
                settings.DOCKYARD_AUDIT_RETENTION_MONTHS,
                now=datetime.datetime.now(datetime.UTC),
            )
        except DATABASE_ERRORS as exc:
            log.warning("audit retention failed; retrying later", extra={"error": str(exc)})
        await asyncio.sleep(interval)
