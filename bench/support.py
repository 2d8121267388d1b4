"""What every benchmark needs: a whole platform of its own, signed in as its first super_admin."""

import contextlib
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator

import grpc

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.stack.components import free_port

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
ADMIN = {"username": "bench-admin", "email": "bench@example.com", "password": "bench-password-123"}


class Platform:
    def __init__(self, data_dir: pathlib.Path) -> None:
        self.data_dir = data_dir
        self.gateway = f"127.0.0.1:{free_port()}"
        self.addresses = {name: f"127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
        self.postgres_port = free_port()
        env = {
            **os.environ,
            "DOCKYARD_DATA_DIR": str(data_dir),
            "DOCKYARD_GATEWAY_PORT": self.gateway.rsplit(":", 1)[1],
            "DOCKYARD_POSTGRES_PORT": str(self.postgres_port),
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}",
            **{f"DOCKYARD_{name.upper()}_ADDR": address for name, address in self.addresses.items()},
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard_kit.stack"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for line in self.process.stdout:
            if "Dockyard is running" in line:
                break
        else:
            raise RuntimeError("the platform did not start")
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def admin_dsn(self) -> str:
        """The embedded database's administrative login, for seeding data faster than the API can."""
        password = (self.data_dir / "postgres" / "postgres-password").read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{self.postgres_port}/dockyard"

    def status(self) -> str:
        with urllib.request.urlopen(f"http://{self.gateway}/v1/system/status", timeout=5) as response:
            return response.read().decode()

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)


@contextlib.contextmanager
def platform() -> Iterator[Platform]:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as data_dir:
        running = Platform(pathlib.Path(data_dir))
        try:
            yield running
        finally:
            running.stop()


def sign_in_admin(channel: grpc.Channel) -> str:
    auth = identity_pb2_grpc.AuthServiceStub(channel)
    with contextlib.suppress(grpc.RpcError):
        auth.Setup(identity_pb2.SetupRequest(**ADMIN))
    answer = auth.Login(identity_pb2.LoginRequest(username=ADMIN["username"], password=ADMIN["password"]))
    return answer.access_token


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "max": ordered[-1]}


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def require_tools(*tools: str, packages: str) -> None:
    """Stops with the Debian packages to install when a load generator is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not found: apt-get install {packages}")


def write_results(name: str, results: object) -> None:
    """Adds `results` under `name` to the JSON file BENCH_OUT names, when it does (each benchmark of
    `make bench` its own key, so one file holds the whole run)."""
    path = os.environ.get("BENCH_OUT")
    if not path:
        return
    target = pathlib.Path(path)
    everything = json.loads(target.read_text()) if target.exists() and target.stat().st_size else {}
    everything[name] = results
    target.write_text(json.dumps(everything, indent=2) + "\n")


# -- the processes of a platform, from /proc -------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses): field 3 on."""
    text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def process_label(pid: int) -> str:
    """What a child of the stack is: the service it runs (`-m services.<name>`), else its program."""
    argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    for argument in argv:
        if argument.startswith("services."):
            return argument.removeprefix("services.").split(".")[0]
    return pathlib.Path(argv[0]).name


def platform_groups(running: Platform) -> dict[str, list[int]]:
    """The platform's processes by component: "supervisor" (`python -m dockyard_kit.stack`) and each
    child it started (a service by name, postgres, nats-server, envoy), with everything below it."""
    root = running.process.pid
    groups = {"supervisor": [root]}
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            if int(_stat_fields(pid)[1]) == root:
                groups.setdefault(process_label(pid), []).extend(descendants(pid))
    return groups


def memory_kb(pid: int) -> dict[str, int]:
    """{"rss": kB, "pss": kB} from /proc/<pid>/smaps_rollup (0 for a process already gone)."""
    usage = {"rss": 0, "pss": 0}
    with contextlib.suppress(OSError):
        for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                usage[key.lower()] = int(value.split()[0])
    return usage


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU time each process has used so far (those already gone left out)."""
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def machine_busy_seconds() -> float:
    """CPU time all cores have spent on anything but idling and waiting, from /proc/stat."""
    fields = pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
