"""Dockyard's read path against the floor (bench/floor.py), interleaved in one run (issue 10).

Starts a platform and the floor on the platform's database, seeds a project owned by the admin, a
team member whose GET of the team's project goes through the projects service's read model, and
60 more projects for a list of 50; then, round after round, loads the floor and Dockyard in turn
with wrk (HTTP/1.1 through Envoy) and h2load (gRPC, straight to the server):

- REST GET /v1/projects/{id} with the admin's token, c=1 and c=32, and with the member's, c=32;
- REST GET /v1/projects?page_size=50, c=32;
- gRPC GetProject straight to the projects service (the floor's server), c=32;
- and, for the floor only, the GET without jwt_authn (what verifying the token costs Envoy).

Before the load every request is made once and checked (HTTP 200 with the right body, gRPC status
OK: h2load counts an HTTP 200 carrying a gRPC error as a success); during it every non-2xx answer,
socket error or gRPC response without a message counts as an error. Tokens are fetched anew each
round (they live 15 minutes). Ratios are per round, Dockyard over the floor of the same round; the
table shows the median of the rounds, stalls are judged by the worst round.

    make bench                                   # every benchmark
    BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_OUT=read-path.json .venv/bin/python -m bench.read_path
"""

import asyncio
import dataclasses
import json
import os
import pathlib
import re
import resource
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import asyncpg
import grpc
from rich.console import Console
from rich.table import Table

from bench.floor import Floor
from bench.support import (
    cpu_seconds,
    machine_busy_seconds,
    percentiles,
    platform,
    platform_groups,
    require_tools,
    sign_in_admin,
    write_results,
)
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARM_UP_SECONDS = 2
CONNECTIONS = 32
LISTED_PROJECTS = 60
PAGE_SIZE = 50
MEMBER = {"username": "bench-member", "email": "member@example.com", "password": "bench-member-password"}
GET_PROJECT_PATH = "/dockyard.projects.v1.ProjectService/GetProject"
# How long the first answers may take: Envoy fetches the keys, the read model learns the team.
READY_TIMEOUT = 30

# Targets of issue 10.
REST_GET_RATIO = 0.60
GRPC_RATIO = 0.75
C1_P50_MS = 2.0
LIST_RATIO = 0.40
STALL_FACTOR = 3.0

# The CPU table's columns: the process groups that work on the read path, the rest summed up.
CPU_COLUMNS = {"supervisor": "sup.", "projects": "projects", "envoy": "envoy", "postgres": "pg",
               "floor server": "floor srv", "floor envoy": "floor envoy", "load generator": "wrk/h2load"}  # fmt: skip
OTHER_CPU = "other"
ELSEWHERE = "elsewhere"

# wrk's own summary, as one JSON line: latencies in microseconds, every kind of error counted.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %f, "p99_us": %f, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclasses.dataclass(frozen=True)
class Load:
    """What one load generator run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu: dict[str, float]  # % of one core, per process group


@dataclasses.dataclass(frozen=True)
class Target:
    """One thing to load: REST (wrk) at `url`, or gRPC (h2load) GetProject at `url`."""

    protocol: str  # "rest" or "grpc"
    url: str
    caller: str  # whose token: "admin" or "member"
    connections: int
    expect: str  # the project id answered, or "list" for a full page


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the report: a load on the floor and the same load on Dockyard."""

    key: str
    title: str
    connections: int
    floor: Target | None  # None: compared with another row's floor (`floor_of`)
    dockyard: Target | None  # None: a floor-only row
    floor_of: str = ""


@dataclasses.dataclass(frozen=True)
class Seeded:
    project_id: str  # owned by the admin
    team_project_id: str  # in the member's team


# -- seeding ---------------------------------------------------------------------------------------


def eventually(call, what: str, timeout: float = READY_TIMEOUT):
    """`call()`'s result once it stops failing (the read model and Envoy's keys arrive a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (grpc.RpcError, urllib.error.URLError, AssertionError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} still fails after {timeout:.0f}s: {error}") from error
            time.sleep(0.2)


def seed(gateway: str, dsn: str) -> Seeded:
    with grpc.insecure_channel(gateway) as channel:
        metadata = (("authorization", f"Bearer {sign_in_admin(channel)}"),)
        projects = projects_pb2_grpc.ProjectServiceStub(channel)
        teams = identity_pb2_grpc.TeamServiceStub(channel)
        own = projects.CreateProject(
            projects_pb2.CreateProjectRequest(project=projects_pb2.Project(name="bench-project")),
            metadata=metadata,
        )
        member = identity_pb2_grpc.UserServiceStub(channel).CreateUser(
            identity_pb2.CreateUserRequest(user=identity_pb2.User(role="developer", **MEMBER)),
            metadata=metadata,
        )
        team = teams.CreateTeam(
            identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name="bench-team")), metadata=metadata
        )
        teams.AddTeamMember(
            identity_pb2.AddTeamMemberRequest(
                team_id=team.id, member=identity_pb2.TeamMember(user_id=member.id, role="member")
            ),
            metadata=metadata,
        )
        team_project = eventually(
            lambda: projects.CreateProject(
                projects_pb2.CreateProjectRequest(
                    project=projects_pb2.Project(name="bench-team-project", team_id=team.id)
                ),
                metadata=metadata,
            ),
            "creating the team's project",
        )
    asyncio.run(seed_projects(dsn, own.owner_id))
    return Seeded(own.id, team_project.id)


async def seed_projects(dsn: str, owner_id: str) -> None:
    """More projects for the list, straight into the table (the API would add nothing but time)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO projects.projects (name, owner_id, created_at, updated_at)
            SELECT 'listed-' || lpad(n::text, 3, '0'), $1::uuid, now() - n * interval '1 second', now()
            FROM generate_series(1, $2) AS n
            """,
            owner_id,
            LISTED_PROJECTS,
        )
        await conn.execute("ANALYZE projects.projects")
    finally:
        await conn.close()


def sign_in(gateway: str) -> dict[str, str]:
    with grpc.insecure_channel(gateway) as channel:
        admin = sign_in_admin(channel)
        member = identity_pb2_grpc.AuthServiceStub(channel).Login(
            identity_pb2.LoginRequest(username=MEMBER["username"], password=MEMBER["password"])
        )
    return {"admin": admin, "member": member.access_token}


# -- checking and loading --------------------------------------------------------------------------


def check(target: Target, token: str) -> None:
    """One request, which must succeed with the expected answer (retried while things settle)."""
    if target.protocol == "grpc":
        address = target.url.removeprefix("http://").split("/")[0]

        def call() -> None:
            with grpc.insecure_channel(address) as channel:
                answer = projects_pb2_grpc.ProjectServiceStub(channel).GetProject(
                    projects_pb2.GetProjectRequest(project_id=target.expect),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=5,
                )
            assert answer.id == target.expect, answer

    else:

        def call() -> None:
            request = urllib.request.Request(target.url, headers={"authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                body = json.loads(response.read())
            if target.expect == "list":
                assert len(body["projects"]) == PAGE_SIZE, f"{len(body['projects'])} projects"
            else:
                assert body["id"] == target.expect, body

    eventually(call, f"{target.protocol} {target.url} as {target.caller}")


def grpc_body(directory: pathlib.Path, project_id: str) -> pathlib.Path:
    """A GetProjectRequest as gRPC sends it: uncompressed flag, big-endian length, message."""
    message = projects_pb2.GetProjectRequest(project_id=project_id).SerializeToString()
    path = directory / f"get-{project_id}.grpc"
    path.write_bytes(b"\0" + len(message).to_bytes(4, "big") + message)
    return path


def grpc_answer_size(address: str, token: str, project_id: str) -> int:
    """The bytes of DATA a successful GetProject answer carries (a gRPC error carries none)."""
    with grpc.insecure_channel(address) as channel:
        answer = projects_pb2_grpc.ProjectServiceStub(channel).GetProject(
            projects_pb2.GetProjectRequest(project_id=project_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=5,
        )
    return 5 + answer.ByteSize()


class LoadGenerator:
    def __init__(self, work_dir: pathlib.Path, groups) -> None:
        self.work_dir = work_dir
        self.groups = groups  # () -> {group: pids}
        self.wrk_script = work_dir / "report.lua"
        self.wrk_script.write_text(WRK_REPORT)
        self.answer_sizes: dict[str, int] = {}

    def run(self, target: Target, token: str, seconds: int) -> Load:
        before = {name: cpu_seconds(pids) for name, pids in self.groups().items()}
        own_before = _children_cpu_seconds()
        machine_before = machine_busy_seconds()
        started = time.monotonic()
        if target.protocol == "rest":
            load = self._wrk(target, token, seconds)
        else:
            load = self._h2load(target, token, seconds)
        elapsed = time.monotonic() - started
        after = {name: cpu_seconds(pids) for name, pids in self.groups().items()}
        cpu = {name: _share_of_a_core(before.get(name, {}), used, elapsed) for name, used in after.items()}
        cpu["load generator"] = (_children_cpu_seconds() - own_before) / elapsed * 100
        # Whatever else kept the machine busy meanwhile, which the numbers cannot account for.
        cpu[ELSEWHERE] = (machine_busy_seconds() - machine_before) / elapsed * 100 - sum(cpu.values())
        return dataclasses.replace(load, cpu=cpu)

    def _wrk(self, target: Target, token: str, seconds: int) -> Load:
        threads = min(2, target.connections)
        command = ["wrk", "-t", str(threads), "-c", str(target.connections), "-d", f"{seconds}s",
                   "--timeout", "5s", "-s", str(self.wrk_script),
                   "-H", f"authorization: Bearer {token}", target.url]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
        return Load(
            rps=report["requests"] / (report["duration_us"] / 1e6),
            p50_ms=report["p50_us"] / 1000,
            p99_ms=report["p99_us"] / 1000,
            requests=report["requests"],
            errors=report["errors"],
            cpu={},
        )

    def _h2load(self, target: Target, token: str, seconds: int) -> Load:
        address = target.url.removeprefix("http://").split("/")[0]
        size = self.answer_sizes.get(target.url)
        if size is None:
            size = self.answer_sizes[target.url] = grpc_answer_size(address, token, target.expect)
        log = self.work_dir / "h2load.log"
        log.unlink(missing_ok=True)
        command = ["h2load", "-D", str(seconds), "-c", str(target.connections), "-m", "1", "-t", "1",
                   "-d", str(grpc_body(self.work_dir, target.expect)),
                   "-H", "content-type: application/grpc", "-H", "te: trailers",
                   "-H", f"authorization: Bearer {token}", "--log-file", str(log), target.url]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        summary = _h2load_summary(output)
        # One line per finished request: start (µs since the epoch), HTTP status, duration (µs).
        lines = [line.split("\t") for line in log.read_text().splitlines() if line]
        latencies = [int(duration) / 1000 for _, _, duration in lines] or [0.0, 0.0]
        cut = percentiles(latencies)
        # h2load counts an HTTP 200 as a success whatever its grpc-status: a response with fewer
        # bytes of DATA than a Project is an error it does not see.
        without_message = max(0, summary["succeeded"] - summary["data"] // size)
        return Load(
            rps=summary["rps"],
            p50_ms=cut["p50"],
            p99_ms=cut["p99"],
            requests=summary["succeeded"],
            errors=summary["failed"]
            + summary["errored"]
            + summary["timeout"]
            + summary["not_2xx"]
            + without_message,
            cpu={},
        )


def _share_of_a_core(before: dict[int, float], after: dict[int, float], elapsed: float) -> float:
    """% of one core the processes used between two readings; one that started in between counts
    whole (PostgreSQL's backends come and go)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items()) / elapsed * 100


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _h2load_summary(output: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        if found is None:
            raise RuntimeError(f"h2load's output has no {pattern!r}:\n{output}")
        return float(found.group(1))

    succeeded = int(number(r"(\d+) succeeded"))
    return {
        "rps": number(r"finished in [\d.]+m?s, ([\d.]+) req/s"),
        "succeeded": succeeded,
        "failed": int(number(r"(\d+) failed")),
        "errored": int(number(r"(\d+) errored")),
        "timeout": int(number(r"(\d+) timeout")),
        "not_2xx": succeeded - int(number(r"status codes: (\d+) 2xx")),
        "data": int(number(r"\((\d+)\) data")),
    }


# -- the run ---------------------------------------------------------------------------------------


def rows(gateway: str, projects_address: str, floor: Floor, seeded: Seeded) -> list[Row]:
    def rest(address: str, path: str, caller: str, connections: int, expect: str) -> Target:
        return Target("rest", f"http://{address}{path}", caller, connections, expect)

    def grpc_get(address: str) -> Target:
        return Target("grpc", f"http://{address}{GET_PROJECT_PATH}", "admin", CONNECTIONS, seeded.project_id)

    get, team_get = f"/v1/projects/{seeded.project_id}", f"/v1/projects/{seeded.team_project_id}"
    listing = f"/v1/projects?page_size={PAGE_SIZE}"
    return [
        Row(
            "rest_get_c1",
            "REST get, admin",
            1,
            rest(floor.rest_jwt, get, "admin", 1, seeded.project_id),
            rest(gateway, get, "admin", 1, seeded.project_id),
        ),
        Row(
            "rest_get_c32",
            "REST get, admin",
            CONNECTIONS,
            rest(floor.rest_jwt, get, "admin", CONNECTIONS, seeded.project_id),
            rest(gateway, get, "admin", CONNECTIONS, seeded.project_id),
        ),
        Row(
            "rest_get_member_c32",
            "REST get, team member",
            CONNECTIONS,
            None,
            rest(gateway, team_get, "member", CONNECTIONS, seeded.team_project_id),
            floor_of="rest_get_c32",
        ),
        Row(
            "rest_list_c32",
            f"REST list of {PAGE_SIZE}",
            CONNECTIONS,
            rest(floor.rest_jwt, listing, "admin", CONNECTIONS, "list"),
            rest(gateway, listing, "admin", CONNECTIONS, "list"),
        ),
        Row(
            "grpc_get_c32",
            "gRPC get, direct",
            CONNECTIONS,
            grpc_get(floor.grpc),
            grpc_get(projects_address),
        ),
        Row(
            "rest_get_c32_no_jwt",
            "REST get, no jwt_authn",
            CONNECTIONS,
            rest(floor.rest, get, "admin", CONNECTIONS, seeded.project_id),
            None,
        ),
    ]


def measure(table_rows: list[Row], generator: LoadGenerator, gateway: str, console: Console) -> dict:
    """{row key: {"floor": [Load per round], "dockyard": [...]}}, floor and Dockyard taking turns."""
    results = {row.key: {"floor": [], "dockyard": []} for row in table_rows}
    for round_number in range(ROUNDS + 1):
        warm_up = round_number == 0
        tokens = sign_in(gateway)
        for row in table_rows:
            for side in ("floor", "dockyard"):
                target = getattr(row, side)
                if target is None:
                    continue
                check(target, tokens[target.caller])
                seconds = WARM_UP_SECONDS if warm_up else SECONDS
                load = generator.run(target, tokens[target.caller], seconds)
                if not warm_up:
                    results[row.key][side].append(load)
                    console.print(
                        f"round {round_number}/{ROUNDS} {side:>8} {row.title}, c={row.connections}:"
                        f" {load.rps:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms,"
                        f" {load.errors} errors",
                        style="dim",
                    )
    for row in table_rows:
        if row.floor_of:
            results[row.key]["floor"] = results[row.floor_of]["floor"]
    return results


def ratios(dockyard: list[Load], floor: list[Load]) -> list[float]:
    return [ours.rps / theirs.rps for ours, theirs in zip(dockyard, floor, strict=True) if theirs.rps]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def targets(results: dict) -> list[dict]:
    """Each target of issue 10: what it asks, what was measured, whether that meets it."""

    def verdict(name: str, measured: float, passed: bool, shown: str) -> dict:
        return {"target": name, "measured": measured, "shown": shown, "passed": passed}

    found = []
    for key, title in (
        ("rest_get_c32", "REST get c=32, admin"),
        ("rest_get_member_c32", "REST get c=32, member"),
    ):
        ratio = median(ratios(results[key]["dockyard"], results[key]["floor"]))
        found.append(
            verdict(f"{title} ≥ {REST_GET_RATIO:.2f} x floor", ratio, ratio >= REST_GET_RATIO, f"{ratio:.3f}")
        )
    ratio = median(ratios(results["grpc_get_c32"]["dockyard"], results["grpc_get_c32"]["floor"]))
    found.append(
        verdict(f"gRPC direct c=32 ≥ {GRPC_RATIO:.2f} x floor", ratio, ratio >= GRPC_RATIO, f"{ratio:.3f}")
    )
    p50 = median([load.p50_ms for load in results["rest_get_c1"]["dockyard"]])
    found.append(verdict(f"REST get c=1 p50 ≤ {C1_P50_MS:.0f} ms", p50, p50 <= C1_P50_MS, f"{p50:.2f} ms"))
    ratio = median(ratios(results["rest_list_c32"]["dockyard"], results["rest_get_c32"]["floor"]))
    found.append(
        verdict(
            f"list of {PAGE_SIZE} c=32 ≥ {LIST_RATIO:.2f} x floor's get",
            ratio,
            ratio >= LIST_RATIO,
            f"{ratio:.3f}",
        )
    )
    for key in ("rest_get_c32", "rest_get_member_c32", "rest_list_c32", "grpc_get_c32"):
        worst = max(
            (load.p99_ms / load.p50_ms for load in results[key]["dockyard"] if load.p50_ms), default=0.0
        )
        found.append(
            verdict(
                f"{key}: p99 ≤ {STALL_FACTOR:.0f} x p50 (worst round)",
                worst,
                worst <= STALL_FACTOR,
                f"{worst:.1f}x",
            )
        )
    errors = sum(load.errors for row in results.values() for side in row.values() for load in side)
    found.append(verdict("every request succeeded", errors, errors == 0, f"{errors} errors"))
    return found


def numbers_table(table_rows: list[Row], results: dict) -> Table:
    table = Table(
        title=f"Read path: Dockyard and the floor, {ROUNDS} interleaved rounds of {SECONDS} s each",
        caption="median of rounds; ratio = Dockyard's req/s over the floor's in the same round (range);"
        " REST: wrk, HTTP/1.1 through Envoy with a JWT; gRPC: h2load straight to the server",
    )
    for column in ("load", "c", "Dockyard req/s", "p50 / p99 ms", "floor req/s", "p50 / p99 ms", "ratio",
                   "errors"):  # fmt: skip
        table.add_column(column, justify="left" if column == "load" else "right")
    for row in table_rows:
        ours, theirs = results[row.key]["dockyard"], results[row.key]["floor"]
        per_round = ratios(ours, theirs) if ours else []
        ratio = f"{median(per_round):.2f} ({min(per_round):.2f}-{max(per_round):.2f})" if per_round else ""
        errors = sum(load.errors for load in ours)
        if not row.floor_of:
            errors += sum(load.errors for load in theirs)
        table.add_row(
            row.title + (" (floor: admin's get)" if row.floor_of else ""),
            str(row.connections),
            *_cells(ours),
            *_cells(theirs),
            ratio,
            str(errors),
        )
    return table


def _cells(loads: list[Load]) -> list[str]:
    if not loads:
        return ["", ""]
    p50, p99 = median([load.p50_ms for load in loads]), median([load.p99_ms for load in loads])
    return [f"{median([load.rps for load in loads]):,.0f}", f"{p50:.2f} / {p99:.1f}"]


def cpu_table(table_rows: list[Row], results: dict) -> Table:
    table = Table(
        title="CPU during each load, % of one core (median of rounds)",
        caption=f"{OTHER_CPU}: the other services and nats-server; {ELSEWHERE}: the rest of the machine's busy"
        " time (the kernel's own work, this benchmark's process, and whatever else runs: a lot of it makes the"
        " run's numbers doubtful)",
    )
    table.add_column("load")
    for column in (*CPU_COLUMNS.values(), OTHER_CPU, ELSEWHERE):
        table.add_column(column, justify="right")
    for row in table_rows:
        for side in ("dockyard", "floor"):
            if getattr(row, side) is None:
                continue
            loads = results[row.key][side]
            others = [
                sum(used for name, used in load.cpu.items() if name not in (*CPU_COLUMNS, ELSEWHERE))
                for load in loads
            ]
            table.add_row(
                f"{side} {row.title}, c={row.connections}",
                *(f"{median([load.cpu.get(name, 0.0) for load in loads]):.0f}" for name in CPU_COLUMNS),
                f"{median(others):.0f}",
                f"{median([load.cpu[ELSEWHERE] for load in loads]):.0f}",
            )
    return table


def main() -> None:
    require_tools("wrk", "h2load", packages="wrk nghttp2-client")
    # The tables need 120 columns; squeezed into 80 (rich's default off a terminal) they are unreadable.
    console = Console(width=max(Console().width, 120))
    with platform() as running, tempfile.TemporaryDirectory(prefix="dockyard-bench-floor-") as work:
        work_dir = pathlib.Path(work)
        console.print("seeding: a project, a team member and its team's project, "
                      f"{LISTED_PROJECTS} projects to list…")  # fmt: skip
        seeded = seed(running.gateway, running.admin_dsn())
        floor = Floor(work_dir, running.admin_dsn(), running.gateway)
        floor.start()
        try:
            table_rows = rows(running.gateway, running.addresses["projects"], floor, seeded)
            generator = LoadGenerator(work_dir, lambda: {**platform_groups(running), **floor.processes()})
            console.print(
                f"{ROUNDS} rounds of {SECONDS} s per load, after a warm-up of {WARM_UP_SECONDS} s each…"
            )
            results = measure(table_rows, generator, running.gateway, console)
        finally:
            floor.stop()
    console.print(numbers_table(table_rows, results))
    console.print(cpu_table(table_rows, results))
    verdicts = targets(results)
    table = Table(title="Issue 10's targets")
    for column in ("target", "measured", "met"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for found in verdicts:
        table.add_row(found["target"], found["shown"], "[green]yes[/]" if found["passed"] else "[red]no[/]")
    console.print(table)
    write_results(
        "read_path",
        {
            "seconds": SECONDS,
            "rounds": ROUNDS,
            "connections": CONNECTIONS,
            "results": {
                key: {side: [dataclasses.asdict(load) for load in loads] for side, loads in sides.items()}
                for key, sides in results.items()
            },
            "targets": verdicts,
        },
    )


if __name__ == "__main__":
    main()
