"""Service processes for tests: started as the real entry points, their JSON logs kept for asserts,
each with the environment the bootstrap step prepared for it (`bootstrap_services`)."""

import contextlib
import json
import pathlib
import signal
import subprocess
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dockyard_kit import bootstrap
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.stack.components import free_port
from tests.support.paths import REPO_ROOT

# The kit's own test service (tests/support/probe_service.py), bootstrapped like the real ones.
PROBE = "probe"


def bootstrap_services(
    operator_env: dict[str, str],
    secrets_dir: pathlib.Path,
    services: tuple[str, ...] = (*SERVICE_NAMES, PROBE),
) -> dict[str, dict[str, str]]:
    """Runs `python -m dockyard_kit.bootstrap` for `services` with `operator_env` (administrative
    login, master secret) as a deploy would, and returns service -> the environment that service
    starts with: its own secrets file, neither the master secret nor the administrative login."""
    command = [sys.executable, "-m", "dockyard_kit.bootstrap", "--secrets-dir", str(secrets_dir)]
    for service in services:
        command += ["--service", service]
    result = subprocess.run(
        command, env=operator_env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"the bootstrap step failed:\n{result.stdout}\n{result.stderr}"
    return {
        service: bootstrap.service_environment(operator_env, service, secrets_dir) for service in services
    }


class LoggedProcess:
    """A child process whose output lines (JSON logs, mostly) are kept for asserts."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def logs(self) -> list[dict]:
        entries = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._reader.join(timeout=2)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=2)
        return self.process.returncode


class ServiceProcess(LoggedProcess):
    """A service's real entry point (`python -m <module>`) on a free address."""

    def __init__(self, module: str, env: dict[str, str], address: str | None = None) -> None:
        self.module = module
        self.address = address or f"127.0.0.1:{free_port()}"
        self.env = {**env, "DOCKYARD_LISTEN_ADDR": self.address, "DOCKYARD_LOG_LEVEL": "INFO"}
        super().__init__([sys.executable, "-m", module], self.env)

    def health(self) -> str:
        with grpc.insecure_channel(self.address) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError as exc:
                return f"UNREACHABLE ({exc.code().name})"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

    def wait_health(self, expected: str, timeout: float = 60) -> float:
        """Waits until health reads `expected`; returns how long that took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.module} exited {self.process.returncode}:\n" + "\n".join(self.lines[-30:])
                )
            if self.health() == expected:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(
            f"{self.module} not {expected} after {timeout}s:\n" + "\n".join(self.lines[-30:])
        )
