"""The audit trail's benchmarks (the audit issue), against a platform of its own:

- search at 1,000,000 entries: COPY fills a realistic trail over the past 12 months (bench/audit_rows.py;
  the search trigger runs for every row), ANALYZE, then GET /v1/audit-logs through the gateway as the
  super_admin: full-text queries p95 < 50 ms, filter-only queries p95 < 20 ms, and page 50 (reached by
  following next_page_token) as fast as page 1 (p95 at most 1.5 x).
- export: GET /v1/audit-logs:export?format=ndjson of every entry through the gateway, read and counted,
  while the audit service's RSS is sampled every 0.2 s: rows/s, and the peak at most 50 MB above idle.
- ingestion: envelopes of catalogued types written to their service's outbox (as enqueue() writes
  them; NATS lets each service publish only its own subjects) until they are audit rows: 30,000 as fast as possible (>= 3,000 events/s), then 1,000 events/s for 20 s,
  each event's lag from its commit until a poll (every 20 ms) finds its row (p99 < 500 ms).

    make bench
    PYTHONPATH=.:gen .venv/bin/python -m bench.audit
    BENCH_AUDIT_ROWS=100000 PYTHONPATH=.:gen .venv/bin/python -m bench.audit   # a quick look
"""

import asyncio
import datetime
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid

import asyncpg
import grpc
from rich.console import Console
from rich.table import Table

from bench.audit_rows import COLUMNS, World
from bench.support import (
    memory_kb,
    percentiles,
    platform,
    platform_groups,
    sign_in_admin,
    timed,
    write_results,
)
from dockyard_kit.events.outbox import notify_channel, serialize_for_outbox
from services.audit.store.partitions import add_months, month_start, partition_name

ROWS = int(os.environ.get("BENCH_AUDIT_ROWS", "1000000"))
COPY_CHUNK = 50_000
REQUESTS = 100
PAGE_SIZE = 50
DEEP_PAGE = 50
FULL_TEXT_P95_MS, FILTER_P95_MS, DEEP_RATIO = 50.0, 20.0, 1.5
EXPORT_SAMPLE_SECONDS, EXPORT_GROWTH_MB = 0.2, 50
BURST_EVENTS, BURST_TARGET = 30_000, 3_000
STEADY_RATE, STEADY_SECONDS, STEADY_TICK, LAG_P99_MS = 1_000, 20, 0.02, 500.0
POLL_SECONDS = 0.02
INSERT_BATCH = 500
OUTBOX_INSERT = (
    "INSERT INTO {schema}.outbox (event_id, subject, resource_type, resource_id, envelope)"
    " VALUES ($1, $2, $3, $4, $5)"
)


def verdict(met: bool) -> str:
    return "[green]yes[/]" if met else "[red]no[/]"


# -- filling ----------------------------------------------------------------------------------------


async def fill(dsn: str, world: World, console: Console) -> dict:
    """ROWS entries over the past 12 months, by COPY as the admin login, into months' partitions
    made here where the service has not made them yet (it makes the current month and ahead)."""
    until = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    since = until - datetime.timedelta(days=365)
    conn = await asyncpg.connect(dsn)
    try:
        start = month_start(since)
        while start <= until:
            end = add_months(start, 1)
            if not await conn.fetchval("SELECT to_regclass($1)", f"audit.{partition_name(start)}"):
                await conn.execute(
                    f"CREATE TABLE audit.{partition_name(start)} PARTITION OF audit.audit_logs"
                    f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            start = end
        started, generating = time.perf_counter(), 0.0
        for done in range(0, ROWS, COPY_CHUNK):
            made = time.perf_counter()
            rows = world.rows(min(COPY_CHUNK, ROWS - done), since, until)
            generating += time.perf_counter() - made
            await conn.copy_records_to_table("audit_logs", schema_name="audit", columns=COLUMNS, records=rows)
            if (done + len(rows)) % 250_000 == 0:
                console.print(f"  {done + len(rows):,} entries, {time.perf_counter() - started:.0f} s")
        copied = time.perf_counter() - started
        analysed = time.perf_counter()
        await conn.execute("ANALYZE audit.audit_logs")
        return {
            "rows": ROWS,
            "copy_seconds": copied,
            "generate_seconds": generating,
            "rows_per_second": ROWS / (copied - generating),
            "analyze_seconds": time.perf_counter() - analysed,
            "since": since,
            "until": until,
        }
    finally:
        await conn.close()


# -- search -----------------------------------------------------------------------------------------


class Rest:
    """GET requests through the gateway as the super_admin, over one kept-alive connection."""

    def __init__(self, gateway: str, token: str) -> None:
        host, port = gateway.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = {"authorization": f"Bearer {token}"}

    def list(self, **params) -> dict:
        self.connection.request(
            "GET", f"/v1/audit-logs?{urllib.parse.urlencode(params)}", headers=self.headers
        )
        response = self.connection.getresponse()
        body = response.read()
        assert response.status == 200, f"{response.status} {body[:300]!r}"
        return json.loads(body)


def search_queries(world: World, filled: dict) -> dict[tuple[str, str], dict]:
    """(kind, label) -> query parameters; every one matches at least a page (checked before timing)."""
    user = world.users[0]
    application = world.families["application"][0].filed
    window_end = filled["until"] - datetime.timedelta(days=90)
    window = {"since": (window_end - datetime.timedelta(days=1)).isoformat(), "until": window_end.isoformat()}
    return {
        ("full-text", "a word: billing"): {"query": "billing"},
        ("full-text", 'a phrase: "checkout api"'): {"query": '"checkout api"'},
        ("full-text", "word -other: ledger -worker"): {"query": "ledger -worker"},
        ("full-text", "a or b: invoices or shipping"): {"query": "invoices or shipping"},
        ("full-text", "a username"): {"query": user.username},
        ("filter", "user_id"): {"user_id": user.id},
        ("filter", "resource_type + resource_id"): {
            "resource_type": "application",
            "resource_id": str(application[2]),
        },
        ("filter", "action prefix deployer.deployment."): {"action": "deployer.deployment."},
        ("filter", "action exact identity.auth.login_failed"): {"action": "identity.auth.login_failed"},
        ("filter", "since/until, one day"): window,
        ("filter", "ip 192.168.1.0/24"): {"ip": "192.168.1.0/24"},
        ("filter", "user_id + action prefix"): {"user_id": user.id, "action": "identity."},
    }


def measure(call) -> dict:
    for _ in range(5):  # connections and plans warm
        call()
    return percentiles([timed(call) for _ in range(REQUESTS)])


def search(rest: Rest, world: World, filled: dict) -> list[dict]:
    results = []
    for (kind, label), params in search_queries(world, filled).items():
        found = len(rest.list(page_size=PAGE_SIZE, **params)["audit_logs"])
        assert found, f"{label} matches nothing: it would measure nothing"
        result = measure(lambda params=params: rest.list(page_size=PAGE_SIZE, **params))
        results.append({"kind": kind, "query": label, "page_rows": found, **result})
    for label, params in (("newest first, no filter", {}), ("full-text: billing", {"query": "billing"})):
        token = ""
        for _ in range(DEEP_PAGE - 1):  # the token of page DEEP_PAGE
            token = rest.list(page_size=PAGE_SIZE, page_token=token, **params)["next_page_token"]
            assert token, f"{label} has fewer than {DEEP_PAGE} pages"
        for page, page_token in ((1, ""), (DEEP_PAGE, token)):
            result = measure(
                lambda params=params, page_token=page_token: rest.list(
                    page_size=PAGE_SIZE, page_token=page_token, **params
                )
            )
            results.append({"kind": f"page {page}", "query": label, "page_rows": PAGE_SIZE, **result})
    return results


def search_table(results: list[dict]) -> Table:
    table = Table(
        title=f"GET /v1/audit-logs through the gateway, {ROWS:,} entries, {REQUESTS} requests each (ms)"
    )
    for column in ("kind", "query", "p50", "p95", "p99", "max", "target", "met"):
        table.add_column(column, justify="left" if column in ("kind", "query", "target") else "right")
    first_pages = {r["query"]: r for r in results if r["kind"] == "page 1"}
    for r in results:
        if r["kind"] == "full-text":
            target, met = f"p95 < {FULL_TEXT_P95_MS:.0f}", r["p95"] < FULL_TEXT_P95_MS
        elif r["kind"] == "filter":
            target, met = f"p95 < {FILTER_P95_MS:.0f}", r["p95"] < FILTER_P95_MS
        elif r["kind"] == "page 1":
            target, met = "", None
        else:
            first = first_pages[r["query"]]["p95"]
            target, met = f"p95 ≤ {DEEP_RATIO} x page 1 ({first:.1f})", r["p95"] <= DEEP_RATIO * first
        if met is not None:
            r["met"] = met
        values = (f"{r[k]:.2f}" for k in ("p50", "p95", "p99", "max"))
        table.add_row(r["kind"], r["query"], *values, target, "" if met is None else verdict(met))
    return table


# -- export -----------------------------------------------------------------------------------------


def audit_rss_kb(running) -> int:
    return sum(memory_kb(pid)["rss"] for pid in platform_groups(running)["audit"])


def export(running, token: str, expected_rows: int) -> dict:
    """Streams the whole NDJSON export to nowhere, counting, while a thread samples the audit
    service's RSS."""
    idle = []
    for _ in range(5):
        idle.append(audit_rss_kb(running))
        time.sleep(EXPORT_SAMPLE_SECONDS)
    idle_kb = max(idle)
    peak, done = [idle_kb], threading.Event()

    def sample() -> None:
        while not done.wait(EXPORT_SAMPLE_SECONDS):
            peak.append(audit_rss_kb(running))

    sampler = threading.Thread(target=sample, daemon=True)
    host, port = running.gateway.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    started = time.perf_counter()
    sampler.start()
    connection.request(
        "GET", "/v1/audit-logs:export?format=ndjson", headers={"authorization": f"Bearer {token}"}
    )
    response = connection.getresponse()
    assert response.status == 200, response.status
    size = lines = 0
    first_byte = None
    while chunk := response.read1(1 << 16):
        first_byte = first_byte or time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    connection.close()
    return {
        "rows": lines,
        "expected_rows": expected_rows,
        "bytes": size,
        "seconds": seconds,
        "first_byte_seconds": first_byte,
        "rows_per_second": lines / seconds,
        "idle_rss_mb": idle_kb / 1024,
        "peak_rss_mb": max(peak) / 1024,
        "samples": len(peak),
    }


def export_table(result: dict) -> Table:
    growth = result["peak_rss_mb"] - result["idle_rss_mb"]
    result["met"] = growth < EXPORT_GROWTH_MB and result["rows"] == result["expected_rows"]
    table = Table(title="GET /v1/audit-logs:export?format=ndjson through the gateway")
    for column in ("rows", "MB", "s", "rows/s", "first byte", "idle RSS", "peak RSS", "target", "met"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{result['rows']:,} of {result['expected_rows']:,}",
        f"{result['bytes'] / 1e6:.0f}",
        f"{result['seconds']:.1f}",
        f"{result['rows_per_second']:,.0f}",
        f"{result['first_byte_seconds']:.2f} s",
        f"{result['idle_rss_mb']:.0f} MB",
        f"{result['peak_rss_mb']:.0f} MB (+{growth:.0f})",
        f"every row, peak < idle + {EXPORT_GROWTH_MB} MB",
        verdict(result["met"]),
    )
    return table


# -- ingestion --------------------------------------------------------------------------------------


class Arrivals:
    """Polls the trail every POLL_SECONDS for entries newer than the last one seen, noting when each
    awaited event's entry was first seen. One writer (the trail's consumer) takes ids in commit order,
    so "newer than the last seen id" misses none."""

    def __init__(self, conn: asyncpg.Connection, last_id: int) -> None:
        self.conn, self.last_id = conn, last_id
        self.seen: dict[uuid.UUID, float] = {}

    @classmethod
    async def start(cls, conn: asyncpg.Connection) -> "Arrivals":
        return cls(conn, await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit.audit_logs"))

    async def poll(self) -> None:
        rows = await self.conn.fetch(
            "SELECT id, event_id FROM audit.audit_logs WHERE id > $1 ORDER BY id", self.last_id
        )
        now = time.perf_counter()
        for row in rows:
            self.seen.setdefault(row["event_id"], now)
        if rows:
            self.last_id = rows[-1]["id"]

    async def until_all(self, event_ids: set[uuid.UUID], within_seconds: float) -> bool:
        deadline = time.perf_counter() + within_seconds
        while not event_ids <= self.seen.keys():
            if time.perf_counter() > deadline:
                return False
            await self.poll()
            await asyncio.sleep(POLL_SECONDS)
        return True


def outbox_rows(world: World, count: int) -> list[tuple]:
    """(schema, outbox row) of `count` events: each goes to the outbox of the service that emits it,
    since NATS lets a service publish only its own subjects."""
    return [
        (
            e.source_service,
            (uuid.UUID(e.id), e.subject, e.resource_type, e.resource_id, serialize_for_outbox(e)),
        )
        for e in world.events(count)
    ]


async def commit_events(conn: asyncpg.Connection, rows: list[tuple]) -> float:
    """One transaction of outbox rows, each relay told of its news at commit (as enqueue() does);
    returns the commit time."""
    by_schema: dict[str, list[tuple]] = {}
    for schema, row in rows:
        by_schema.setdefault(schema, []).append(row)
    async with conn.transaction():
        for schema, schema_rows in by_schema.items():
            await conn.executemany(OUTBOX_INSERT.format(schema=schema), schema_rows)
            await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))
    return time.perf_counter()


async def ingest_burst(writer: asyncpg.Connection, arrivals: Arrivals, world: World) -> dict:
    rows = outbox_rows(world, BURST_EVENTS)
    started = time.perf_counter()
    for at in range(0, len(rows), INSERT_BATCH):
        await commit_events(writer, rows[at : at + INSERT_BATCH])
        await arrivals.poll()
    written = time.perf_counter() - started
    ids = {row[0] for _, row in rows}
    complete = await arrivals.until_all(ids, within_seconds=300)
    arrived = [arrivals.seen[event_id] for event_id in ids if event_id in arrivals.seen]
    last = max(arrived, default=started)
    stages = await burst_stages(writer, sorted({schema for schema, _ in rows}), list(ids))
    return {
        "stages": stages,
        "events": BURST_EVENTS,
        "arrived": len(arrived),
        "complete": complete,
        "written_seconds": written,
        "seconds": last - started,
        "events_per_second": len(arrived) / max(last - started, 1e-9),
    }


# Every service with an inbox: where the burst's events were consumed besides the trail.
CONSUMING_SCHEMAS = ("identity", "projects", "deployer", "audit", "notifications")


async def burst_stages(conn: asyncpg.Connection, emitting: list[str], ids: list[uuid.UUID]) -> list[dict]:
    """Where the burst's time went: for each relay, and each consumer of its events in any service,
    how many of them it took (and parked, if any) and when it had the last, in seconds after the
    first commit (from the outbox's, inboxes' and parked events' own timestamps, one clock)."""
    firsts = " UNION ALL ".join(
        f"SELECT min(created_at) FROM {schema}.outbox WHERE event_id = ANY($1)" for schema in emitting
    )
    first = await conn.fetchval(f"SELECT min(m) FROM ({firsts}) AS firsts(m)", ids)
    stages = []
    for schema in emitting:
        row = await conn.fetchrow(
            f"SELECT count(*) AS events, max(published_at) AS last FROM {schema}.outbox WHERE event_id = ANY($1)",
            ids,
        )
        stages.append({"stage": f"{schema} relay (published)", "events": row["events"], "last": row["last"]})
    for schema in CONSUMING_SCHEMAS:
        for table, at, outcome in (("inbox", "processed_at", ""), ("parked_events", "parked_at", ": parked")):
            for row in await conn.fetch(
                f"SELECT consumer, count(*) AS events, max({at}) AS last FROM {schema}.{table}"
                " WHERE event_id = ANY($1) GROUP BY consumer ORDER BY consumer",
                ids,
            ):
                stage = f"{schema} consumer {row['consumer']}{outcome}"
                stages.append({"stage": stage, "events": row["events"], "last": row["last"]})
    for stage in stages:
        stage["last_seconds"] = (stage.pop("last") - first).total_seconds()
    return stages


async def ingest_steady(writer: asyncpg.Connection, arrivals: Arrivals, world: World) -> dict:
    per_tick = int(STEADY_RATE * STEADY_TICK)
    ticks = int(STEADY_SECONDS / STEADY_TICK)
    batches = [outbox_rows(world, per_tick) for _ in range(ticks)]
    committed: dict[uuid.UUID, float] = {}
    stop = asyncio.Event()

    async def poll_loop() -> None:
        while not stop.is_set():
            await arrivals.poll()
            await asyncio.sleep(POLL_SECONDS)

    poller = asyncio.create_task(poll_loop())
    started = time.perf_counter()
    behind = 0
    for tick, rows in enumerate(batches):
        at = await commit_events(writer, rows)
        committed.update((row[0], at) for _, row in rows)
        pause = started + (tick + 1) * STEADY_TICK - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        else:
            behind += 1
    offered = len(committed) / (time.perf_counter() - started)
    stop.set()
    await poller
    complete = await arrivals.until_all(set(committed), within_seconds=120)
    lags = [(arrivals.seen[e] - at) * 1000 for e, at in committed.items() if e in arrivals.seen]
    assert len(lags) > 1, f"{len(lags)} of {len(committed)} events reached the trail"
    return {
        "events": len(committed),
        "arrived": len(lags),
        "complete": complete,
        "offered_per_second": offered,
        "late_ticks": behind,
        **{f"lag_{k}_ms": v for k, v in percentiles(lags).items()},
    }


async def ingest(dsn: str, world: World) -> dict:
    writer, reader = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        arrivals = await Arrivals.start(reader)
        burst = await ingest_burst(writer, arrivals, world)
        steady = await ingest_steady(writer, arrivals, world)
        return {"burst": burst, "steady": steady}
    finally:
        await writer.close()
        await reader.close()


def ingest_table(result: dict) -> Table:
    burst, steady = result["burst"], result["steady"]
    burst["met"] = burst["complete"] and burst["events_per_second"] >= BURST_TARGET
    steady["met"] = steady["complete"] and steady["lag_p99_ms"] < LAG_P99_MS
    table = Table(title="ingestion: outbox -> relay -> NATS -> the trail's consumer -> audit.audit_logs")
    for column in ("measure", "value", "target", "met"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        f"{burst['events']:,} events at once (written in {burst['written_seconds']:.1f} s)",
        f"{burst['events_per_second']:,.0f} events/s, {burst['arrived']:,} in {burst['seconds']:.1f} s",
        f"≥ {BURST_TARGET:,} events/s",
        verdict(burst["met"]),
    )
    table.add_row(
        f"{STEADY_RATE:,}/s for {STEADY_SECONDS} s (offered {steady['offered_per_second']:,.0f}/s),"
        f" lag commit -> row",
        f"p50 {steady['lag_p50_ms']:.0f} ms, p99 {steady['lag_p99_ms']:.0f} ms, max {steady['lag_max_ms']:.0f} ms"
        f" ({steady['arrived']:,} of {steady['events']:,})",
        f"p99 < {LAG_P99_MS:.0f} ms",
        verdict(steady["met"]),
    )
    return table


def stages_table(stages: list[dict]) -> Table:
    table = Table(title="the burst, stage by stage: when each had the last of its events")
    for column in ("stage", "events", "last, s after the first commit", "events/s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in stages:
        rate = stage["events"] / max(stage["last_seconds"], 1e-9)
        table.add_row(stage["stage"], f"{stage['events']:,}", f"{stage['last_seconds']:.1f}", f"{rate:,.0f}")
    return table


def main() -> None:
    console = Console()
    world = World()
    with platform() as running:
        groups = platform_groups(running)
        console.print(f"audit pids {groups['audit']}, projects pids {groups['projects']} (for py-spy)")
        with grpc.insecure_channel(running.gateway) as channel:
            token = sign_in_admin(channel)
        dsn = running.admin_dsn()
        console.print(f"filling {ROWS:,} entries by COPY…")
        filled = asyncio.run(fill(dsn, world, console))
        console.print(
            f"filled in {filled['copy_seconds']:.0f} s ({filled['generate_seconds']:.0f} s of it making rows):"
            f" {filled['rows_per_second']:,.0f} rows/s into PostgreSQL with the search trigger and 8 indexes;"
            f" ANALYZE {filled['analyze_seconds']:.1f} s"
        )
        rest = Rest(running.gateway, token)
        searched = search(rest, world, filled)
        console.print(search_table(searched))

        async def count() -> int:
            conn = await asyncpg.connect(dsn)
            try:
                return await conn.fetchval("SELECT count(*) FROM audit.audit_logs")
            finally:
                await conn.close()

        exported = export(running, token, asyncio.run(count()))
        console.print(export_table(exported))
        console.print("ingesting…")
        ingested = asyncio.run(ingest(dsn, world))
        console.print(ingest_table(ingested))
        console.print(stages_table(ingested["burst"]["stages"]))
    filled = {k: v for k, v in filled.items() if k not in ("since", "until")}
    write_results("audit", {"fill": filled, "search": searched, "export": exported, "ingest": ingested})


if __name__ == "__main__":
    main()
