"""Memory of an idle platform, per process `make run` starts (issue 10): each service < 120 MB RSS,
the whole platform < 782 MB RSS (Dokploy's figure here).

Starts a platform, lets it idle, then reads RSS and PSS from /proc/<pid>/smaps_rollup for the
supervisor (`python -m dockyard_kit.stack`) and everything below it, grouped by the child it started
(each service, PostgreSQL with all its backends, nats-server, Envoy). RSS counts shared pages
(libraries, PostgreSQL's shared buffers) once per process that maps them, so a total of RSS counts
them several times; PSS shares them out, and its total is what the platform really holds. MB here
are 2^20 bytes, as ps, top and docker stats count them.

Idle means after the services' pools have closed the connections start-up opened
(DOCKYARD_DB_POOL_IDLE_SECONDS, 30 s by default): 40 s.

    make bench                                    # every benchmark
    BENCH_IDLE_SECONDS=40 .venv/bin/python -m bench.memory
"""

import os
import time

from rich.console import Console
from rich.table import Table

from bench.support import memory_kb, platform, platform_groups, write_results
from dockyard_kit.registry import SERVICE_NAMES

IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "40"))
SERVICE_RSS_MB = 120
PLATFORM_RSS_MB = 782
GROUP_ORDER = ["supervisor", *SERVICE_NAMES, "postgres", "nats-server", "envoy"]


def measure() -> dict[str, dict]:
    """{group: {"processes": n, "rss_mb": ..., "pss_mb": ...}} of a platform idle IDLE_SECONDS."""
    with platform() as running:
        time.sleep(IDLE_SECONDS)
        groups = platform_groups(running)
        usage = {}
        for name, pids in groups.items():
            per_process = [memory_kb(pid) for pid in pids]
            usage[name] = {
                "processes": len(pids),
                "rss_mb": sum(process["rss"] for process in per_process) / 1024,
                "pss_mb": sum(process["pss"] for process in per_process) / 1024,
            }
    order = {name: position for position, name in enumerate(GROUP_ORDER)}
    return dict(sorted(usage.items(), key=lambda item: order.get(item[0], len(order))))


def main() -> None:
    console = Console()
    console.print(f"starting a platform and letting it idle {IDLE_SECONDS} s…")
    usage = measure()
    table = Table(title=f"Memory of an idle platform ({IDLE_SECONDS} s after start-up), MB")
    for column in ("process", "processes", "RSS", "PSS", "target", "met"):
        table.add_column(column, justify="left" if column in ("process", "target") else "right")
    verdicts = []

    def verdict(passed: bool) -> str:
        return "[green]yes[/]" if passed else "[red]no[/]"

    for name, found in usage.items():
        target, met = "", ""
        if name in SERVICE_NAMES:
            passed = found["rss_mb"] < SERVICE_RSS_MB
            target, met = f"RSS < {SERVICE_RSS_MB}", verdict(passed)
            verdicts.append(
                {"target": f"{name} RSS < {SERVICE_RSS_MB} MB", "measured": found["rss_mb"], "passed": passed}
            )
        table.add_row(
            name, str(found["processes"]), f"{found['rss_mb']:.0f}", f"{found['pss_mb']:.0f}", target, met
        )
    total_rss = sum(found["rss_mb"] for found in usage.values())
    total_pss = sum(found["pss_mb"] for found in usage.values())
    passed = total_rss < PLATFORM_RSS_MB
    verdicts.append(
        {"target": f"platform RSS < {PLATFORM_RSS_MB} MB", "measured": total_rss, "passed": passed}
    )
    table.add_section()
    table.add_row(
        "[bold]platform[/]",
        str(sum(found["processes"] for found in usage.values())),
        f"[bold]{total_rss:.0f}[/]",
        f"[bold]{total_pss:.0f}[/]",
        f"RSS < {PLATFORM_RSS_MB} (Dokploy)",
        verdict(passed),
    )
    console.print(table)
    write_results("memory", {"idle_seconds": IDLE_SECONDS, "groups": usage, "targets": verdicts})


if __name__ == "__main__":
    main()
