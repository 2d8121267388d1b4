"""What every benchmark needs: a whole platform of its own, signed in as its first super_admin."""

import contextlib
import os
import pathlib
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
