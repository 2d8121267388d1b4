"""The gRPC server every service runs: health, reflection, the interceptor (with access-token
verification and the deny-list), start-up against the database (migrations, as the service's own
role), background work, and a draining shutdown on SIGTERM. A service starts only with its own
secrets file (DOCKYARD_SERVICE_SECRET_FILE, written by `python -m dockyard_kit.bootstrap`); it never
reads the master secret or the administrative database login.

A service describes itself with a `ServiceSpec`; `run(spec)` does the rest.
"""

import asyncio
import dataclasses
import functools
import gc
import json
import logging
import pathlib
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

import asyncpg
import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from dockyard_kit import config, contract, db, logs, revisions, service_secrets
from dockyard_kit.access import CurrentRoles
from dockyard_kit.auth import AccessTokenVerifier, Authenticator
from dockyard_kit.component import COMPONENT_SERVICE, StatusReporter, add_component_service
from dockyard_kit.crypto import KeyRing
from dockyard_kit.errors import Unavailable
from dockyard_kit.events import NatsLink, OutboxRelay, housekeeping
from dockyard_kit.events.nats import STREAM_KEEPER
from dockyard_kit.interceptors import ServerInterceptor
from dockyard_kit.jwks import IdentityJwks, JwksCache
from dockyard_kit.revocations import DenyList, revocation_consumer
from dockyard_kit.service_auth import ServiceCredentials

log = logging.getLogger("dockyard.server")
# The migrating child's outcome is logged under the name it always had.
migrations_log = logging.getLogger("dockyard.migrations")

# How often the database link and migration state are re-checked for health.
HEALTH_INTERVAL_SECONDS = 1.0


@dataclasses.dataclass
class DatabaseState:
    reachable: bool = False
    error: str = "not checked yet"
    server_version: str = ""
    current_revision: revisions.Revisions = dataclasses.field(default_factory=revisions.Revisions)
    head_revision: revisions.Revisions = dataclasses.field(default_factory=revisions.Revisions)

    @property
    def at_head(self) -> bool:
        """Both chains at head: the kit's tables and the service's own (when it has any)."""
        return bool(self.head_revision.kit) and self.current_revision == self.head_revision


@dataclasses.dataclass
class ServiceSpec:
    """What makes one service: its name, migrations, gRPC servicers and background tasks."""

    name: str
    migrations_dir: pathlib.Path
    # Registers the service's servicers on the server; called once, before the server starts.
    register: Callable[[grpc.aio.Server, "ServiceRuntime"], None]
    # The service's settings class (services/<name>/settings.py), when it reads more than the shared ones.
    settings: type[config.Settings] = config.Settings
    # Long-running coroutines started once the database is ready (consumers, schedulers, ...).
    background: list[Callable[["ServiceRuntime"], Awaitable[None]]] = dataclasses.field(default_factory=list)
    # The deployer reports the Docker engine in its component status.
    # Fills the service's own part of its component status (component.StatusReporter).
    report_status: StatusReporter | None = None
    # Methods the contract does not describe (raw-bytes services such as the kit's test probe) that
    # answer without a token; the contract's own say so with (dockyard.api.v1.public).
    open_methods: frozenset[str] = frozenset()
    # gRPC services it serves that the contract does not describe (the kit's test probe).
    uncontracted_services: tuple[str, ...] = ()

    @functools.cached_property
    def grpc_services(self) -> list[str]:
        """Fully qualified gRPC service names, for health and reflection: those the contract says this
        service serves ((dockyard.api.v1.served_by)), then any it serves outside the contract."""
        return [*contract.grpc_services_of(self.name), *self.uncontracted_services]


class ServiceRuntime:
    """What a running service's handlers and tasks share: settings, pool, health state."""

    def __init__(self, spec: ServiceSpec, settings: config.Settings) -> None:
        self.spec = spec
        self.settings = settings
        # This service's own role password and keys (its secrets file).
        self.secrets = service_secrets.for_service(settings, spec.name)
        self.pool: asyncpg.Pool | None = None
        # Reads under row-level security (db.SessionPool); created with the pool.
        self.session_pool: db.SessionPool | None = None
        self.database = DatabaseState(head_revision=revisions.head_revision(spec.migrations_dir))
        self.health = health.aio.HealthServicer()
        self.stopping = asyncio.Event()
        self.nats = NatsLink.from_settings(settings, spec.name)
        # The callers' current roles, read by the servicers (servicer.Servicer.caller) and forgotten
        # by whatever applies a change to one.
        self.current_roles = CurrentRoles()
        # Every RPC that needs a caller is checked against identity's keys and this deny-list.
        self.jwks = IdentityJwks(settings.DOCKYARD_IDENTITY_ADDR)
        self.deny_list = DenyList(lambda: self.pool)
        verifier = AccessTokenVerifier(
            JwksCache(self.jwks), issuer=settings.DOCKYARD_JWT_ISSUER, audience=settings.DOCKYARD_JWT_AUDIENCE
        )
        self.authenticator = Authenticator(
            verifier,
            self.deny_list,
            spec.open_methods,
            service_credentials=ServiceCredentials.of(self.secrets),
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key_ring(self) -> KeyRing:
        """What this service seals its secrets at rest with; no other service's keys open them."""
        return self.secrets.key_ring()

    def require_pool(self) -> asyncpg.Pool:
        """The service's pool; UNAVAILABLE while start-up has not reached the database yet."""
        if self.pool is None:
            raise Unavailable(f"the {self.name} database is not ready yet; retry shortly")
        return self.pool

    def require_session_pool(self) -> db.SessionPool:
        if self.session_pool is None:
            raise Unavailable(f"the {self.name} database is not ready yet; retry shortly")
        return self.session_pool

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service_name in ["", *self.spec.grpc_services]:
            await self.health.set(service_name, status)

    async def prepare_database(self) -> None:
        """Migrations and pool, retried until the database answers. The role and schema are the
        bootstrap step's (python -m dockyard_kit.bootstrap)."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                await self._migrate()
                self.pool = await db.create_pool(self.settings, self.name)
                self.session_pool = await db.create_session_pool(self.settings, self.name)
                log.info("database ready", extra={"migration_head": str(self.database.head_revision)})
                return
            except (*db.DATABASE_ERRORS, MigrationRefused) as exc:
                error = exc.error if isinstance(exc, MigrationRefused) else _describe(exc)
                self.database = dataclasses.replace(self.database, reachable=False, error=error)
                extra = {"error": error, "retry_in_s": delay}
                login_refused = isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError)
                if login_refused or (isinstance(exc, MigrationRefused) and exc.login_refused):
                    # The role is missing or has another password: the bootstrap step has not run for
                    # this database and master secret.
                    extra["hint"] = f"run python -m dockyard_kit.bootstrap for role {db.role_name(self.name)}"
                log.warning("database not ready; retrying", extra=extra)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _migrate(self) -> None:
        """Brings the schema to head in a child process (dockyard_kit/migrations.py), which alone loads
        Alembic and SQLAlchemy; it reads this process's environment, hence its settings."""
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dockyard_kit.migrations",
            "upgrade",
            self.name,
            str(self.spec.migrations_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await child.communicate()
        except asyncio.CancelledError:
            # Shutting down mid-migration: the database rolls the child's transaction back.
            child.kill()
            await child.wait()
            raise
        lines = out.decode().splitlines()
        outcome = json.loads(lines[-1]) if lines else {}
        if "error" in outcome:
            raise MigrationRefused(outcome["error"], outcome["login_refused"])
        if child.returncode != 0 or "to" not in outcome:
            raise RuntimeError(f"migrations failed (exit status {child.returncode}): {err.decode().strip()}")
        if outcome["from"] != outcome["to"]:
            migrations_log.info(
                "migrations applied",
                extra={"schema": self.name, "from": outcome["from"] or None, "to": outcome["to"]},
            )

    async def watch_database(self) -> None:
        """Keeps health truthful: SERVING only while the database answers and is at head."""
        serving = None
        while not self.stopping.is_set():
            self.database = await self._check_database()
            now_serving = self.database.reachable and self.database.at_head
            if now_serving != serving:
                serving = now_serving
                await self.set_serving(serving)
                log.info("health", extra={"serving": serving, "database_error": self.database.error})
            await asyncio.sleep(HEALTH_INTERVAL_SECONDS)

    async def _check_database(self) -> DatabaseState:
        state = self.database
        try:
            async with asyncio.timeout(self.settings.DOCKYARD_DB_CONNECT_TIMEOUT):
                async with self.pool.acquire() as conn:
                    version = await conn.fetchval("SHOW server_version")
                    revision = await revisions.current_revision(conn, self.name)
            return dataclasses.replace(
                state, reachable=True, error="", server_version=version, current_revision=revision
            )
        # Any failure of the probe means "not serving"; an unexpected one must not end the watch.
        except Exception as exc:
            return dataclasses.replace(state, reachable=False, error=_describe(exc))


class MigrationRefused(Exception):
    """The migrating child could not reach or use the database (its error, described); retried."""

    def __init__(self, error: str, login_refused: bool) -> None:
        super().__init__(error)
        self.error = error
        self.login_refused = login_refused


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def serve(spec: ServiceSpec, settings: config.Settings) -> int:
    runtime = ServiceRuntime(spec, settings)
    server = grpc.aio.server(
        interceptors=[
            ServerInterceptor(
                spec.name, lambda: runtime.pool, runtime.authenticator, settings.gateway_secret()
            )
        ],
        options=[("grpc.max_receive_message_length", 4 << 20), ("grpc.so_reuseport", 0)],
    )
    health_pb2_grpc.add_HealthServicer_to_server(runtime.health, server)
    spec.register(server, runtime)
    add_component_service(server, runtime, spec.report_status)
    reflection.enable_server_reflection(
        [
            *spec.grpc_services,
            COMPONENT_SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    await runtime.set_serving(False)
    try:
        address = _listen_grpc(server, settings.listen_address(spec.name))
        metrics = _serve_metrics(settings.DOCKYARD_METRICS_ADDR)
    except CannotListen as exc:
        # One line, and no server left running for grpc's destructor to stop on a closed loop.
        log.error(str(exc))
        await server.stop(None)
        return config.EXIT_CANNOT_LISTEN
    await server.start()
    # What start-up made (modules, descriptors, settings) lives as long as the process: out of the
    # collector's way, so that a full collection under load does not walk it (a pause for every RPC).
    gc.freeze()
    if settings.DOCKYARD_READY_FILE is not None:
        _write_ready_file(settings.DOCKYARD_READY_FILE, grpc=address, metrics=metrics)
    log.info("listening", extra={"address": address, "metrics": metrics})

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runtime.stopping.set)

    tasks: list[asyncio.Task] = []
    runtime.nats.start()

    async def start_work() -> None:
        await runtime.prepare_database()
        if runtime.stopping.is_set():
            return
        tasks.append(asyncio.create_task(runtime.watch_database(), name="watch-database"))
        # Every service relays its own outbox: a committed change always reaches NATS.
        tasks.append(asyncio.create_task(OutboxRelay(runtime.pool, runtime.nats).run(), name="outbox-relay"))
        # Each service prunes its own inbox; one purges the stream of what every consumer acked.
        keeper = spec.name == STREAM_KEEPER
        retention = housekeeping(runtime.pool, runtime.nats, settings, purge=keeper)
        tasks.append(asyncio.create_task(retention, name="events-housekeeping"))
        tasks.append(asyncio.create_task(runtime.deny_list.run(), name="deny-list"))
        consumer = revocation_consumer(runtime.pool, runtime.nats)
        tasks.append(asyncio.create_task(consumer.run(), name="deny-list-consumer"))
        for job in spec.background:
            tasks.append(asyncio.create_task(job(runtime), name=getattr(job, "__name__", "background")))

    starter = asyncio.create_task(start_work(), name="start-up")
    await runtime.stopping.wait()

    # Drain: stop advertising, refuse new RPCs, let in-flight ones finish within the grace period.
    log.info("stopping", extra={"grace_s": settings.DOCKYARD_SHUTDOWN_GRACE_SECONDS})
    await runtime.set_serving(False)
    await server.stop(settings.DOCKYARD_SHUTDOWN_GRACE_SECONDS)
    for task in [starter, *tasks]:
        task.cancel()
    # Each step is bounded: a dependency that went away with us (NATS, the database) must not keep
    # the process from exiting.
    _, stuck = await asyncio.wait([starter, *tasks], timeout=SHUTDOWN_STEP_SECONDS)
    if stuck:
        log.warning("background tasks did not stop", extra={"tasks": sorted(t.get_name() for t in stuck)})
    await _bounded("closing the NATS connection", runtime.nats.close())
    await _bounded("closing the identity channel", runtime.jwks.close())
    for pool in (runtime.session_pool, runtime.pool):
        if pool is not None and not await _bounded("closing a database pool", pool.close()):
            pool.terminate()
    log.info("stopped")
    return 0


# How long each step of the shutdown after the drain may take.
SHUTDOWN_STEP_SECONDS = 5.0


async def _bounded(step: str, awaitable) -> bool:
    """Whether `step` finished within SHUTDOWN_STEP_SECONDS (it is cancelled otherwise)."""
    try:
        await asyncio.wait_for(awaitable, SHUTDOWN_STEP_SECONDS)
        return True
    except TimeoutError:
        log.warning("shutdown step timed out", extra={"step": step, "after_s": SHUTDOWN_STEP_SECONDS})
        return False


class CannotListen(Exception):
    """A listener could not bind its address; the message says which and why."""


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _listen_grpc(server: grpc.aio.Server, address: str) -> str:
    """Binds the gRPC port; returns the address it got (port 0 asks the system for a free one)."""
    host, port = _split(address)
    # A plain bind first, which says why it failed (grpc only says that it did, in a log line of its own).
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CannotListen(f"cannot listen for gRPC on {address}: {exc.strerror}") from None
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        raise CannotListen(f"cannot listen for gRPC on {address}: address in use") from None
    return f"{host}:{bound}" if ":" not in host else f"[{host}]:{bound}"


def _serve_metrics(address: str) -> str | None:
    """Starts the Prometheus endpoint ("" turns it off); returns the address it got."""
    if not address:
        return None
    host, port = _split(address)
    try:
        httpd, _ = start_http_server(port, addr=host)
    except OSError as exc:
        raise CannotListen(f"cannot listen for metrics on {address}: {exc.strerror}") from None
    return f"{host}:{httpd.server_port}"


def _write_ready_file(path: pathlib.Path, **addresses: str | None) -> None:
    """Tells the launcher where this process listens, once it does: written whole, then renamed."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(addresses))
    partial.replace(path)


def run(spec: ServiceSpec) -> None:
    """The entry point of `python -m services.<name>`."""
    settings = config.load(spec.settings)
    try:
        service_secrets.required(settings, spec.name)
    except config.ConfigError as exc:
        config.exit_invalid(exc)
    logs.configure(spec.name, settings.DOCKYARD_LOG_LEVEL)
    # uvloop: the event loop's own work per RPC and per database round trip is a fraction of asyncio's.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        raise SystemExit(runner.run(serve(spec, settings)))
