"""`make run`: the whole platform on one machine, in the foreground.

Starts PostgreSQL (unless POSTGRES_HOST / DATABASE_URL point elsewhere), NATS with JetStream (unless
NATS_URL is set), the four services and Envoy; waits until each is healthy; prints where to reach
the gateway and where data lives; forwards every component's log with a coloured prefix; and on
Ctrl-C / SIGTERM stops everything in reverse order.
"""

import argparse
import fcntl
import os
import pathlib
import secrets
import signal
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dockyard_kit.config import SERVICES
from dockyard_kit.stack.components import (
    Envoy,
    ManagedProcess,
    Nats,
    Postgres,
    Service,
    free_port,
    port_in_use,
    wait_until,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DESCRIPTOR_SET = REPO_ROOT / "gen" / "dockyard.pb"
COLOURS = {"postgres": "blue", "nats": "magenta", "envoy": "yellow", "identity": "green",
           "projects": "cyan", "deployer": "bright_red", "audit": "bright_blue"}  # fmt: skip

console = Console(highlight=False)
_print_lock = threading.Lock()


class StackError(Exception):
    """Something stops the stack from starting; the message says what and how to fix it."""


def log_line(name: str, line: str) -> None:
    prefix = Text(f"{name:>9} │ ", style=COLOURS.get(name, "white"))
    with _print_lock:
        console.print(prefix + Text(line), soft_wrap=True)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name}={raw!r} is not a port number (1-65535)")
    return int(raw)


class Stack:
    def __init__(self, data_dir: pathlib.Path, gateway_host: str, gateway_port: int) -> None:
        self.data_dir = data_dir
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.started: list[ManagedProcess] = []
        self.env: dict[str, str] = {}
        self.components: list[tuple[str, str]] = []

    # -- preparation -----------------------------------------------------------------------------

    def lock(self) -> None:
        """One stack per data directory: a second `make run` must not touch a running one's data."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.data_dir / "run.lock", "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            owner = self._lock_file.read().strip() or "another process"
            raise StackError(
                f"Dockyard is already running with data in {self.data_dir} (pid {owner}).\n"
                "Stop it first (Ctrl-C in its terminal), or set DOCKYARD_DATA_DIR to run a second, separate one."
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def check_gateway_port(self) -> None:
        if port_in_use(self.gateway_host, self.gateway_port):
            raise StackError(
                f"port {self.gateway_port} on {self.gateway_host} is already in use, so the gateway cannot listen "
                "there.\nStop whatever uses it, or choose another port: DOCKYARD_GATEWAY_PORT=8081 make run"
            )

    def secret_key_file(self) -> pathlib.Path:
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
        return path

    # -- start-up --------------------------------------------------------------------------------

    def start(self) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "gen")]),
            "DOCKYARD_SECRET_KEY_FILE": os.environ.get("DOCKYARD_SECRET_KEY_FILE")
            or str(self.secret_key_file()),
        }
        self._start_postgres()
        self._start_nats()
        self._start_services()
        self._start_gateway()

    def _launch(self, process: ManagedProcess, what: str, start) -> None:
        with console.status(f"starting {what}…"):
            self.started.append(process)
            start()
        console.print(f"[green]✓[/] {what}")

    def _start_postgres(self) -> None:
        if os.environ.get("POSTGRES_HOST") or os.environ.get("DATABASE_URL"):
            self.components.append(("PostgreSQL", "external (POSTGRES_HOST / DATABASE_URL)"))
            return
        postgres = Postgres(
            self.data_dir / "postgres", _env_int("DOCKYARD_POSTGRES_PORT", free_port()), log_line
        )
        self._launch(postgres, f"PostgreSQL on 127.0.0.1:{postgres.port}", postgres.start)
        self.env.update(postgres.client_environment())
        self.components.append(("PostgreSQL", f"embedded, 127.0.0.1:{postgres.port}"))

    def _start_nats(self) -> None:
        if os.environ.get("NATS_URL"):
            self.components.append(("NATS", f"external ({os.environ['NATS_URL']})"))
            return
        nats = Nats(self.data_dir, _env_int("DOCKYARD_NATS_PORT", free_port()), log_line)
        self._launch(nats, f"NATS JetStream on {nats.url}", nats.start)
        self.env["NATS_URL"] = nats.url
        self.components.append(("NATS", f"embedded, {nats.url}"))

    def _start_services(self) -> None:
        for name in SERVICES:
            variable = f"DOCKYARD_{name.upper()}_ADDR"
            self.env.setdefault(variable, f"127.0.0.1:{free_port()}")
        services = []
        for name in SERVICES:
            env = {**self.env, "DOCKYARD_METRICS_ADDR": f"127.0.0.1:{free_port()}"}
            service = Service(name, env, log_line)
            address = env[f"DOCKYARD_{name.upper()}_ADDR"]
            self.started.append(service)
            service.spawn()  # all four start together; each is then waited for in turn
            services.append((service, address))
            self.components.append(
                (name, f"{address}  (metrics http://{env['DOCKYARD_METRICS_ADDR']}/metrics)")
            )
        for service, address in services:
            with console.status(f"waiting for {service.name}…"):
                self._wait_serving(service, address)
            console.print(f"[green]✓[/] {service.name} on {address}")

    def _wait_serving(self, service: Service, address: str) -> None:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            def serving() -> bool:
                if not service.running:
                    raise StackError(f"{service.name} exited with status {service.process.returncode}")
                try:
                    answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                except grpc.RpcError:
                    return False
                return answer.status == health_pb2.HealthCheckResponse.SERVING

            wait_until(serving, 90, service.name, interval=0.2)

    def _start_gateway(self) -> None:
        from gateway.generate import write_config

        admin_port = _env_int("DOCKYARD_GATEWAY_ADMIN_PORT", free_port())
        config_path = write_config(
            self.data_dir / "gateway" / "envoy.yaml",
            descriptor_set=DESCRIPTOR_SET,
            listen_host=self.gateway_host,
            listen_port=self.gateway_port,
            admin_port=admin_port,
            service_addresses={name: self.env[f"DOCKYARD_{name.upper()}_ADDR"] for name in SERVICES},
            # The edge checks tokens against the same issuer and audience as the services.
            jwt_issuer=self.env.get("DOCKYARD_JWT_ISSUER") or "dockyard",
            jwt_audience=self.env.get("DOCKYARD_JWT_AUDIENCE") or "dockyard",
        )
        envoy = Envoy(config_path, admin_port, log_line)
        self._launch(envoy, f"gateway on {self.gateway_host}:{self.gateway_port}", envoy.start)
        self.components.append(("Envoy admin", f"http://127.0.0.1:{admin_port}"))

    # -- running and stopping --------------------------------------------------------------------

    def summary(self) -> None:
        table = Table.grid(padding=(0, 2))
        address = f"{self.gateway_host}:{self.gateway_port}"
        table.add_row("[bold]HTTP/JSON[/]", f"http://{address}   e.g. curl http://{address}/v1/system/status")
        table.add_row(
            "[bold]gRPC[/]", f"{address}   e.g. grpcurl -plaintext -protoset gen/dockyard.pb {address} list"
        )
        table.add_row("[bold]data[/]", str(self.data_dir))
        for name, where in self.components:
            table.add_row(name, where)
        console.print(Panel(table, title="[bold green]Dockyard is running[/]", subtitle="Ctrl-C stops it"))

    def failed_child(self) -> ManagedProcess | None:
        return next((p for p in self.started if not p.running), None)

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.running:
                console.print(f"[dim]stopping {process.name}…[/]")
            process.stop()
        self.started.clear()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make run",
        description="Run the whole Dockyard platform on this machine: PostgreSQL, NATS JetStream, the identity, "
        "projects, deployer and audit services, and the Envoy gateway. Ctrl-C stops everything.",
        epilog="Environment: DOCKYARD_GATEWAY_PORT (8080), DOCKYARD_GATEWAY_HOST (127.0.0.1), DOCKYARD_DATA_DIR "
        "(./.dockyard), POSTGRES_HOST/PORT/DATABASE/USER/PASSWORD[_FILE]/SSL or DATABASE_URL (use an external "
        "PostgreSQL), NATS_URL (use an external NATS), DOCKER_HOST (the Docker engine to deploy to).",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    parse_args(argv)
    stop_requested = threading.Event()
    starting = True

    def on_signal(*_) -> None:
        stop_requested.set()
        if starting:
            raise KeyboardInterrupt  # interrupt a start-up that is waiting on a component

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        stack = Stack(
            pathlib.Path(os.environ.get("DOCKYARD_DATA_DIR") or REPO_ROOT / ".dockyard").resolve(),
            os.environ.get("DOCKYARD_GATEWAY_HOST") or "127.0.0.1",
            _env_int("DOCKYARD_GATEWAY_PORT", 8080),
        )
        stack.lock()
        stack.check_gateway_port()
    except StackError as exc:
        console.print(f"[bold red]dockyard:[/] {exc}")
        return 1
    try:
        stack.start()
    except KeyboardInterrupt:
        stack.stop()
        return 0
    except (StackError, TimeoutError, RuntimeError, OSError) as exc:
        console.print(f"[bold red]dockyard: could not start:[/] {exc}")
        stack.stop()
        return 1
    starting = False
    stack.summary()
    exit_code = 0
    while not stop_requested.wait(0.5):
        failed = stack.failed_child()
        if failed is not None:
            console.print(
                f"[bold red]dockyard:[/] {failed.name} exited with status {failed.process.returncode}"
            )
            exit_code = 1
            break
    started = time.monotonic()
    stack.stop()
    console.print(f"[green]Dockyard stopped[/] in {time.monotonic() - started:.1f}s")
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
