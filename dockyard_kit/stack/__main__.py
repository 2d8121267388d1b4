"""`make run`: the whole platform on one machine, in the foreground.

Starts PostgreSQL (unless POSTGRES_HOST / DATABASE_URL point elsewhere), NATS with JetStream (unless
NATS_URL is set), runs the bootstrap step (`python -m dockyard_kit.bootstrap`: database roles and
schemas, and each service's secrets file), the four services (each with its own secrets file, and
without the master secret or the administrative database login) and Envoy; waits until each is healthy; prints where to reach
the gateway and where data lives; forwards every component's log with a coloured prefix; and on
Ctrl-C / SIGTERM stops everything in reverse order.
"""

import argparse
import fcntl
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import threading
import time

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from dockyard_kit import registry
from dockyard_kit.stack.components import (
    START_ATTEMPTS,
    Envoy,
    ManagedProcess,
    Nats,
    Postgres,
    Relay,
    Service,
    free_port,
    in_a_child,
    port_in_use,
    start_on_a_port,
    wait_until,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
COLOURS = {"postgres": "blue", "nats": "magenta", "envoy": "yellow",
           **{service.name: service.log_colour for service in registry.SERVICES}}  # fmt: skip
# config.Settings' default DOCKYARD_DB_POOL_MAX: the supervisor does not import the kit's settings
# (pydantic and all) to learn it; a test keeps the two equal.
DEFAULT_POOL_MAX = 20
# Where the running stack says what listens where (JSON), for tools and tests; gone once it stops.
STATE_FILE = "stack.json"

# Each service's environment (bootstrap.service_environment), worked out in a child: the bootstrap
# module imports the kit's database layer.
SERVICE_ENVIRONMENTS = """# the services' environments
import json, pathlib, sys
from dockyard_kit.bootstrap import service_environment
env, services, secrets_dir = json.load(sys.stdin)
print(json.dumps({name: service_environment(env, name, pathlib.Path(secrets_dir)) for name in services}))
"""
# Exits once the service at argv[1] answers SERVING to a gRPC health check, or after argv[2]
# seconds: a child of its own, as grpc would stay in the supervisor's memory for good.
UNTIL_SERVING = """# waiting for a service's health
import sys, time
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
deadline = time.monotonic() + float(sys.argv[2])
with grpc.insecure_channel(sys.argv[1]) as channel:
    check = health_pb2_grpc.HealthStub(channel).Check
    while time.monotonic() < deadline:
        try:
            if check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                sys.exit(0)
        except grpc.RpcError:
            pass
        time.sleep(0.2)
sys.exit(1)
"""
# How long a service may take to be healthy.
SERVING_TIMEOUT = 90

console = Console(highlight=False)


class StackError(Exception):
    """Something stops the stack from starting; the message says what and how to fix it."""


def _env_int(name: str, default: int | None) -> int | None:
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
        self.service_addresses: dict[str, str] = {}
        self.metrics_addresses: dict[str, str] = {}
        self.envoy_admin = ""
        # The embedded NATS, which gives each service a user of its own; None when NATS is external.
        self.nats: Nats | None = None
        # Every child's output, made when the stack starts.
        self.relay: Relay | None = None

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
            raise StackError(self.gateway_port_taken())

    def gateway_port_taken(self) -> str:
        return (
            f"port {self.gateway_port} on {self.gateway_host} is already in use, so the gateway cannot listen "
            "there.\nStop whatever uses it, or choose another port: DOCKYARD_GATEWAY_PORT=8081 make run"
        )

    def secret_key_file(self) -> pathlib.Path:
        return self._generated_secret("secret.key")

    def _generated_secret(self, name: str) -> pathlib.Path:
        """A secret of 32 random bytes (64 hex characters) in the data directory, made on first use."""
        path = self.data_dir / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
        return path

    # -- start-up --------------------------------------------------------------------------------

    def start(self) -> None:
        # The console's look without its cost per line (rich decides whether colours are wanted).
        self.relay = Relay(
            sys.stdout.fileno(), COLOURS if console.color_system else None, terminal=console.is_terminal
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "gen")]),
            # Where services keep files of their own (the audit trail's archive).
            "DOCKYARD_DATA_DIR": str(self.data_dir),
            "DOCKYARD_SECRET_KEY_FILE": os.environ.get("DOCKYARD_SECRET_KEY_FILE")
            or str(self.secret_key_file()),
            # Envoy adds it to every request it forwards; the services believe X-Forwarded-For only then.
            "DOCKYARD_GATEWAY_SECRET_FILE": os.environ.get("DOCKYARD_GATEWAY_SECRET_FILE")
            or str(self._generated_secret("gateway.secret")),
        }
        self.components.append(("master secret", self.env["DOCKYARD_SECRET_KEY_FILE"]))
        self._start_postgres()
        self._start_nats()
        self._bootstrap()
        self._start_services()
        self._start_gateway()

    def _launch(self, process: ManagedProcess, what: str, start) -> None:
        with console.status(f"starting {what}…"):
            self.started.append(process)
            start()
        console.print(f"[green]✓[/] {what}")

    def _start_on_a_port(self, make, fixed_port: int | None, what) -> ManagedProcess:
        def launch(process: ManagedProcess) -> None:
            self._launch(process, what(process), process.start)

        def retry(process: ManagedProcess) -> None:
            self.started.remove(process)
            console.print(
                f"[yellow]![/] port {process.port} was taken meanwhile; {process.name} tries another"
            )

        return start_on_a_port(make, fixed_port, start=launch, on_retry=retry)

    def _start_postgres(self) -> None:
        if os.environ.get("POSTGRES_HOST") or os.environ.get("DATABASE_URL"):
            self.components.append(("PostgreSQL", "external (POSTGRES_HOST / DATABASE_URL)"))
            return
        postgres = self._start_on_a_port(
            lambda port: Postgres(
                self.data_dir / "postgres", port, self.relay, max_connections=self._postgres_connections()
            ),
            _env_int("DOCKYARD_POSTGRES_PORT", None),
            lambda postgres: f"PostgreSQL on 127.0.0.1:{postgres.port}",
        )
        self.env.update(postgres.client_environment())
        self.components.append(("PostgreSQL", f"embedded, 127.0.0.1:{postgres.port}"))

    @staticmethod
    def _postgres_connections() -> int:
        """Both pools of every service full (each is DOCKYARD_DB_POOL_MAX, as the services read it:
        the main pool and the session pool for reads, dockyard_kit.db), and room for the bootstrap
        step, the outbox relays and an operator's tools."""
        pool_max = os.environ.get("DOCKYARD_DB_POOL_MAX", "")
        per_service = int(pool_max) if pool_max.isdigit() else DEFAULT_POOL_MAX
        return len(registry.SERVICES) * 2 * per_service + 40

    def _start_nats(self) -> None:
        if os.environ.get("NATS_URL"):
            self.components.append(("NATS", f"external ({os.environ['NATS_URL']})"))
            return
        nats = self._start_on_a_port(
            lambda port: Nats(self.data_dir, port, self.relay, services=registry.SERVICE_NAMES),
            _env_int("DOCKYARD_NATS_PORT", None),
            lambda nats: f"NATS JetStream on {nats.url}",
        )
        self.env["NATS_URL"] = nats.url
        self.nats = nats
        self.components.append(("NATS", f"embedded, {nats.url}"))

    @property
    def secrets_dir(self) -> pathlib.Path:
        """The services' secrets files (bootstrap.secrets_file)."""
        return self.data_dir / "service-secrets"

    def _bootstrap(self) -> None:
        """Roles, schemas and secrets files, with the master secret and the administrative login:
        the one step that holds them."""
        command = [sys.executable, "-m", "dockyard_kit.bootstrap", "--secrets-dir", str(self.secrets_dir)]
        with console.status("bootstrapping the services' database roles and secrets…"):
            result = subprocess.run(
                command, cwd=REPO_ROOT, env={**self.env, "COLUMNS": "200"}, capture_output=True, text=True,
                check=False,
            )  # fmt: skip
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
            raise StackError(f"the bootstrap step failed: {lines[-1]}")
        for line in result.stdout.rstrip().splitlines():
            self.relay.line("bootstrap", line)
        console.print(f"[green]✓[/] database roles and secrets files in {self.secrets_dir}")

    def _start_services(self) -> None:
        """All services start together, each then waited for in turn. Their gRPC ports are chosen
        here, as each service must know the others' addresses before it starts (identity asks them
        for the status page, they fetch identity's keys); when a port was taken before its service
        bound it, all of them start again on new ones. Metrics ports each service takes itself."""
        chosen = [s for s in registry.SERVICES if not os.environ.get(s.address_variable)]
        for attempt in range(1, START_ATTEMPTS + 1):
            for entry in chosen:
                self.env[entry.address_variable] = f"127.0.0.1:{free_port()}"
            environments = in_a_child(
                SERVICE_ENVIRONMENTS, [self.env, registry.SERVICE_NAMES, str(self.secrets_dir)], self.env
            )
            services = [self._spawn_service(entry, environments[entry.name]) for entry in registry.SERVICES]
            try:
                for service in services:
                    with console.status(f"waiting for {service.name}…"):
                        self._wait_serving(service)
                    console.print(f"[green]✓[/] {service.name} on {service.address}")
                break
            except StackError:
                lost = [s for s in services if s.lost_its_port()]
                if not lost or attempt == START_ATTEMPTS or any(s.address_variable_fixed for s in lost):
                    raise
                for service in services:
                    self.started.remove(service)
                    service.stop()
                names = ", ".join(s.name for s in lost)
                console.print(f"[yellow]![/] a port was taken before {names} could bind it; starting again")
        for service in services:
            listening = service.listening()
            self.service_addresses[service.name] = service.address
            self.metrics_addresses[service.name] = listening.get("metrics") or ""
            self.components.append(
                (service.name, f"{service.address}  (metrics http://{listening.get('metrics')}/metrics)")
            )

    def _spawn_service(self, entry: registry.ServiceEntry, environment: dict[str, str]) -> Service:
        env = {**environment, "DOCKYARD_METRICS_ADDR": "127.0.0.1:0"}
        if self.nats is not None:
            env.update(self.nats.client_environment(entry.name))
        service = Service(
            entry,
            env,
            self.data_dir / "run" / f"{entry.name}.ready.json",
            self.relay,
            address_variable_fixed=bool(os.environ.get(entry.address_variable)),
        )
        self.started.append(service)
        service.spawn()
        return service

    def _wait_serving(self, service: Service) -> None:
        waiter = subprocess.Popen(
            [sys.executable, "-c", UNTIL_SERVING, service.address, str(SERVING_TIMEOUT)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

        def serving() -> bool:
            if not service.running:
                raise StackError(f"{service.name} exited with status {service.process.returncode}")
            return waiter.poll() is not None

        try:
            wait_until(serving, SERVING_TIMEOUT, service.name, interval=0.2)
        finally:
            if waiter.poll() is None:
                waiter.kill()
            _, errors = waiter.communicate()
        if waiter.returncode != 0:
            last = errors.decode(errors="replace").strip().splitlines() or ["no answer"]
            raise TimeoutError(f"{service.name} was not serving within {SERVING_TIMEOUT}s ({last[-1]})")

    def _start_gateway(self) -> None:
        # Envoy takes its admin port itself (0) unless one is given, and reports it in a file.
        admin_port = _env_int("DOCKYARD_GATEWAY_ADMIN_PORT", 0)
        config_path = self.data_dir / "gateway" / "envoy.yaml"
        self._write_gateway_config(config_path, admin_port)
        envoy = Envoy(config_path, admin_port, self.relay)
        try:
            self._launch(envoy, f"gateway on {self.gateway_host}:{self.gateway_port}", envoy.start)
        except RuntimeError:
            # The gateway's port is fixed: taken since the check at start-up, it is the same news.
            if envoy.lost_its_port() and port_in_use(self.gateway_host, self.gateway_port):
                raise StackError(self.gateway_port_taken()) from None
            raise
        self.envoy_admin = f"127.0.0.1:{envoy.admin_port}"
        self.components.append(("Envoy admin", f"http://{self.envoy_admin}"))

    def _write_gateway_config(self, path: pathlib.Path, admin_port: int) -> None:
        """`python -m gateway`, as an operator would run it; the edge checks tokens against the same
        issuer and audience as the services."""
        command = [sys.executable, "-m", "gateway", "-o", str(path),
                   "--listen", f"{self.gateway_host}:{self.gateway_port}", "--admin-port", str(admin_port)]  # fmt: skip
        for entry in registry.SERVICES:
            command += [f"--{entry.name}", self.service_addresses[entry.name]]
        command += ["--gateway-secret-file", self.env["DOCKYARD_GATEWAY_SECRET_FILE"]]
        for variable, option in (
            ("DOCKYARD_JWT_ISSUER", "--jwt-issuer"),
            ("DOCKYARD_JWT_AUDIENCE", "--jwt-audience"),
        ):
            if self.env.get(variable):
                command += [option, self.env[variable]]
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
            raise StackError(f"the gateway's configuration could not be generated: {lines[-1]}")

    def write_state(self) -> None:
        """What listens where, for tools and tests (`make run` picks the ports)."""
        state = {
            "pid": os.getpid(),
            "gateway": f"{self.gateway_host}:{self.gateway_port}",
            "envoy_admin": self.envoy_admin,
            "services": self.service_addresses,
            "metrics": self.metrics_addresses,
            "postgres": self.env.get("POSTGRES_PORT")
            and f"{self.env['POSTGRES_HOST']}:{self.env['POSTGRES_PORT']}",
            "nats": self.env.get("NATS_URL"),
        }
        partial = self.data_dir / (STATE_FILE + ".partial")
        partial.write_text(json.dumps(state, indent=2) + "\n")
        partial.replace(self.data_dir / STATE_FILE)

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
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        for process in reversed(self.started):
            if process.running:
                console.print(f"[dim]stopping {process.name}…[/]")
            process.stop()
        self.started.clear()
        if self.relay is not None:
            self.relay.flush()  # their last words before ours


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
            _env_int("DOCKYARD_GATEWAY_PORT", registry.DEFAULT_GATEWAY_PORT),
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
    stack.write_state()
    stack.summary()
    exit_code = 0
    while not stop_requested.wait(0.5):
        failed = stack.failed_child()
        if failed is not None:
            failed.stop()  # it has exited already: this collects its last lines,
            stack.relay.flush()  # which come before our word on it
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
