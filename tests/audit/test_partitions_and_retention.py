"""The audit trail's monthly partitions and its retention, against a real PostgreSQL: partitions made
ahead, once, with the parent's indexes and trigger; rows of a month that sat in the default partition
moved into it; months past the retention archived (every row, every column, a checksum that
sha256sum accepts), verified and only then dropped; a failed archive and a dry run drop nothing."""

import asyncio
import datetime
import gzip
import hashlib
import ipaddress
import json
import subprocess
import sys
import uuid

import asyncpg
import pytest

from services.audit.domain import retention
from services.audit.store import partitions
from tests.support.paths import REPO_ROOT
from tests.support.processes import bootstrap_services
from tests.support.service_fixtures import migrated_pool


def utc(*parts) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.UTC)


@pytest.fixture
async def pool(settings):
    async with migrated_pool(settings, "audit") as pool:
        yield pool


async def insert_entries(pool, created_at: datetime.datetime, count: int = 1) -> list[int]:
    """Entries with every column set, through the parent (PostgreSQL routes them)."""
    ids = []
    for n in range(count):
        ids.append(
            await pool.fetchval(
                "INSERT INTO audit_logs (user_id, username, action, resource_type, resource_id, details,"
                " ip_address, user_agent, created_at, project_id, team_id, request_id, event_id)"
                " VALUES ($1, $2, 'projects.project.created', 'project', $3, $4::jsonb, $5, $6, $7, $8, $9,"
                " $10, $11) RETURNING id",
                uuid.uuid4(),
                f"user-{n}",
                uuid.uuid4(),
                json.dumps({"name": f"p-{n}", "nested": {"list": [1, "two", None]}, "quote": 'it\'s "x"'}),
                ipaddress.ip_address("203.0.113.7"),
                "curl/8.0",
                created_at + datetime.timedelta(minutes=n),
                uuid.uuid4(),
                uuid.uuid4(),
                f"req-{n}",
                uuid.uuid4(),
            )
        )
    return ids


async def rows_of(pool, table: str) -> list[str]:
    """Every column of every row of one partition (ONLY: not what it would route), as JSON text."""
    return [r[0] for r in await pool.fetch(f"SELECT row_to_json(t)::text FROM ONLY {table} t ORDER BY id")]


async def partition_names(pool) -> list[str]:
    async with pool.acquire() as conn:
        return [partition.name for partition in await partitions.list_partitions(conn)]


async def test_partitions_are_made_for_this_month_and_two_ahead_once(pool):
    now = utc(2026, 12, 15, 23, 59)
    async with pool.acquire() as first, pool.acquire() as second:
        # Two replicas at once: the advisory lock makes one wait, and it then finds them made.
        made = await asyncio.gather(
            partitions.ensure_partitions(first, now), partitions.ensure_partitions(second, now)
        )
        assert sorted(made[0] + made[1]) == ["audit_logs_2026_12", "audit_logs_2027_01", "audit_logs_2027_02"]
        assert await partitions.ensure_partitions(first, now) == []
        listed = await partitions.list_partitions(first)
    assert [(p.name, p.start, p.end) for p in listed] == [
        ("audit_logs_2026_12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("audit_logs_2027_01", utc(2027, 1, 1), utc(2027, 2, 1)),
        ("audit_logs_2027_02", utc(2027, 2, 1), utc(2027, 3, 1)),
        ("audit_logs_default", None, None),
    ]


async def test_a_new_partition_has_the_parents_indexes_and_search_trigger(pool):
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, utc(2027, 1, 31, 23, 0), months_ahead=0)
    [entry] = await insert_entries(pool, utc(2027, 1, 31, 23, 59))
    row = await pool.fetchrow(
        "SELECT tableoid::regclass::text AS partition, search_vector::text AS words FROM audit_logs WHERE id = $1",
        entry,
    )
    assert row["partition"] == "audit_logs_2027_01"
    assert "'project'" in row["words"] and "'curl/8.0'" in row["words"]
    index_count = "SELECT count(*) FROM pg_indexes WHERE schemaname = 'audit' AND tablename = $1"
    assert await pool.fetchval(index_count, "audit_logs_2027_01") == await pool.fetchval(
        index_count, "audit_logs"
    )
    assert await pool.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit.audit_logs_2027_01'::regclass"
        " AND tgname = 'audit_logs_search_update_trigger'"
    )


async def test_making_a_partition_gives_way_to_a_long_read_instead_of_stalling_every_reader(pool):
    async with pool.acquire() as reader, reader.transaction():
        # A long export's read: the default partition is locked for sharing until it ends.
        await reader.execute("LOCK TABLE audit_logs_default IN ACCESS SHARE MODE")
        async with pool.acquire() as conn:
            with pytest.raises(asyncpg.LockNotAvailableError):
                await partitions.ensure_partitions(conn, utc(2027, 1, 5))
    assert await partition_names(pool) == ["audit_logs_default"]


async def test_rows_of_a_month_in_the_default_partition_move_into_it_when_it_is_made(pool):
    march = await insert_entries(pool, utc(2027, 3, 10), count=5)
    june = await insert_entries(pool, utc(2027, 6, 1), count=2)
    before = await rows_of(pool, "audit_logs_default")
    async with pool.acquire() as conn:
        assert await partitions.default_partition_rows(conn) == 7
        made = await partitions.ensure_partitions(conn, utc(2027, 1, 5))
        assert made == ["audit_logs_2027_01", "audit_logs_2027_02", "audit_logs_2027_03"]
        assert await partitions.default_partition_rows(conn) == 2
    moved = await rows_of(pool, "audit_logs_2027_03")
    assert [json.loads(row)["id"] for row in moved] == march
    assert [json.loads(row)["id"] for row in await rows_of(pool, "audit_logs_default")] == june
    # Nothing lost, nothing doubled, every column as it was (the search vector included).
    assert sorted(moved + await rows_of(pool, "audit_logs_default")) == sorted(before)
    assert await pool.fetchval("SELECT count(*) FROM audit_logs") == 7


async def old_partition_with_rows(pool, count: int = 3) -> list[str]:
    """Partitions of January to March 2025, rows in January's; January's rows as JSON text."""
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, utc(2025, 1, 10))
    await insert_entries(pool, utc(2025, 1, 31, 23, 0), count=count)
    return await rows_of(pool, "audit_logs_2025_01")


# 12 months after 15 February 2025: January 2025 is wholly past the retention, February is not.
LATER = utc(2026, 2, 15, 12, 0)


async def test_a_month_past_the_retention_is_archived_verified_and_dropped(pool, tmp_path):
    original = await old_partition_with_rows(pool)
    archive_dir = tmp_path / "archive"
    [part] = await retention.run_once(pool, archive_dir, 12, now=LATER)
    assert (part.table, part.rows, part.error) == ("audit_logs_2025_01", 3, None)
    assert await partition_names(pool) == ["audit_logs_2025_02", "audit_logs_2025_03", "audit_logs_default"]

    archive = archive_dir / "audit_logs_2025_01.ndjson.gz"
    assert part.archive == archive
    assert sorted(p.name for p in archive_dir.iterdir()) == [archive.name, archive.name + ".sha256"]
    checksum = (archive_dir / (archive.name + ".sha256")).read_text()
    assert checksum == f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n"
    await asyncio.to_thread(
        subprocess.run, ["sha256sum", "-c", archive.name + ".sha256"], cwd=archive_dir, check=True
    )

    lines = gzip.decompress(archive.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(row) for row in original]
    assert set(json.loads(lines[0])) >= {"id", "details", "ip_address", "search_vector", "event_id"}
    # The archive goes back into the table as it was: every row, every column.
    for line in lines:
        await pool.execute(
            "INSERT INTO audit_logs SELECT * FROM json_populate_record(NULL::audit_logs, $1)", line
        )
    assert await rows_of(pool, "audit_logs_default") == original


async def test_rows_of_the_default_partition_past_the_retention_are_archived_and_deleted(pool, tmp_path):
    await insert_entries(pool, utc(2024, 6, 1), count=2)
    [recent] = await insert_entries(pool, utc(2025, 12, 1))
    original = (await rows_of(pool, "audit_logs_default"))[:2]
    [part] = await retention.run_once(pool, tmp_path, 12, now=LATER)
    assert (part.table, part.rows, part.error) == ("audit_logs_default", 2, None)
    assert part.archive.name == "audit_logs_default_20260215T120000Z.ndjson.gz"
    assert gzip.decompress(part.archive.read_bytes()).decode().splitlines() == original
    assert [json.loads(row)["id"] for row in await rows_of(pool, "audit_logs_default")] == [recent]


async def test_an_archive_that_cannot_be_written_drops_nothing(pool, tmp_path):
    original = await old_partition_with_rows(pool)
    not_a_directory = tmp_path / "archive"
    not_a_directory.write_text("a file where the archive directory should be")
    [part] = await retention.run_once(pool, not_a_directory, 12, now=LATER)
    assert part.error and part.archive is None
    assert await rows_of(pool, "audit_logs_2025_01") == original


async def test_an_archive_that_does_not_read_back_as_written_drops_nothing(pool, tmp_path, monkeypatch):
    original = await old_partition_with_rows(pool)
    real_read_back = retention.read_back

    def one_line_lost(path):
        lines, sha256 = real_read_back(path)
        return lines - 1, sha256

    monkeypatch.setattr(retention, "read_back", one_line_lost)
    [part] = await retention.run_once(pool, tmp_path, 12, now=LATER)
    assert "reads back as 2 rows" in part.error
    assert await rows_of(pool, "audit_logs_2025_01") == original
    assert list(tmp_path.iterdir()) == []  # neither the archive nor its temporary file is left


async def test_a_dry_run_lists_what_would_go_and_changes_nothing(pool, tmp_path):
    original = await old_partition_with_rows(pool, count=4)
    [part] = await retention.run_once(pool, tmp_path / "archive", 12, now=LATER, dry_run=True)
    assert (part.table, part.start, part.end, part.rows) == (
        "audit_logs_2025_01",
        utc(2025, 1, 1),
        utc(2025, 2, 1),
        4,
    )
    assert part.archive is None and not (tmp_path / "archive").exists()
    assert await rows_of(pool, "audit_logs_2025_01") == original


async def test_the_command_runs_as_the_services_role_a_dry_run_first(settings, operator_env, tmp_path):
    env = bootstrap_services(operator_env, tmp_path / "service-secrets", ("audit",))["audit"]
    old = partitions.add_months(partitions.month_start(datetime.datetime.now(datetime.UTC)), -14)
    name = partitions.partition_name(old)
    async with migrated_pool(settings, "audit") as pool:
        async with pool.acquire() as conn:
            await partitions.ensure_partitions(conn, old, months_ahead=0)
        await insert_entries(pool, old, count=2)
    archive_dir = tmp_path / "archive"

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.audit.retention", *args],
            env={**env, "DOCKYARD_AUDIT_ARCHIVE_DIR": str(archive_dir), "COLUMNS": "200"},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    dry = await asyncio.to_thread(command, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert name in dry.stdout and "Would archive 2 rows" in dry.stdout
    assert not archive_dir.exists()
    async with migrated_pool(settings, "audit") as pool:
        assert await pool.fetchval(f"SELECT count(*) FROM {name}") == 2

    done = await asyncio.to_thread(command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Archived 2 rows" in done.stdout
    assert (archive_dir / f"{name}.ndjson.gz").is_file()
    async with migrated_pool(settings, "audit") as pool:
        assert await pool.fetchval("SELECT to_regclass($1)", name) is None
