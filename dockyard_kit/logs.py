"""Structured JSON logs, one object per line on stderr, written without ever blocking the event loop.

Only what is passed explicitly in `extra=` is logged next to the message: request and response
bodies never are, so secrets cannot leak through a log line by accident.

A service formats each line where it logs it (cheap), then hands it to a writer thread: a slow or
stalled reader of stderr (a terminal, the `make run` supervisor, a full pipe) holds up that thread
only, never an RPC. While stderr does not drain, up to MAX_PENDING_LINES wait in memory; past that,
lines are dropped and the writer says how many as soon as stderr drains again.
"""

import collections
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _quoted  # a JSON string literal, in C

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

MAX_PENDING_LINES = 10_000
BATCH_SECONDS = 0.05


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # Timestamps repeat their first 19 characters for a whole second: (second, its text), one
        # object so that threads logging at once never see a second with another's text.
        self._second = (-1, "")

    def timestamp(self, created: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{cached[1]}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def write_all(fd: int, data: bytes) -> None:
    """All of `data` to a blocking file descriptor, however many writes it takes; nothing once the
    reader is gone (there is no one left to tell)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return
        view = view[written:]


class BackgroundWriter:
    """Writes lines to a file descriptor from a thread of its own, in batches; `put` never blocks."""

    def __init__(self, fd: int, max_pending: int = MAX_PENDING_LINES) -> None:
        self.fd = fd
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: collections.deque[str] = collections.deque()
        self._wake = threading.Condition(threading.Lock())
        self._closed = False
        # A batch taken from _pending but not written yet.
        self._writing = False
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        self.put_many((line,))

    def put_many(self, lines: Sequence[str]) -> None:
        with self._wake:
            was_empty = not self._pending
            room = max(self.max_pending - len(self._pending), 0)
            if len(lines) > room:
                self.dropped += len(lines) - room
                lines = lines[:room]
            self._pending.extend(lines)
            if was_empty and self._pending:
                self._wake.notify()

    def flush(self, timeout: float = 2.0) -> None:
        """Waits (bounded) until what was put so far is written: for the last lines before exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                if not self._pending and not self._writing:
                    return
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed and not self._pending:
                    return
            # Lines come in bursts (one per RPC): gathering them for a moment makes one write of
            # many, and spares the loop's thread a hand-over of the interpreter lock for each.
            if not self._closed:
                time.sleep(BATCH_SECONDS)
            with self._wake:
                batch, self._pending = self._pending, collections.deque()
                dropped, self.dropped = self.dropped, 0
                self._writing = True
            if dropped:
                batch.append(json.dumps({"level": "warning", "msg": "log lines dropped", "dropped": dropped}))
            self._write(("\n".join(batch) + "\n").encode("utf-8", "backslashreplace"))
            with self._wake:
                self._writing = False

    def _write(self, data: bytes) -> None:
        write_all(self.fd, data)


class BackgroundHandler(logging.Handler):
    """Formats in the caller's thread (so the record's data is read while it is current), writes in
    the writer's."""

    def __init__(self, writer: BackgroundWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.put(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        super().close()


# Set by `configure`: where `access_lines` puts its lines.
_configured: tuple[JsonFormatter, BackgroundWriter] | None = None

# One RPC's access-log line: when it ended (time.time()), method, status code name, duration in ms,
# request id, client address.
AccessEntry = tuple[float, str, str, float, str, str]


def access_lines(logger: logging.Logger, entries: list[AccessEntry]) -> None:
    """The access log's "rpc" lines, exactly as `logger.info("rpc", extra={...})` would write them,
    at a fraction of the cost: these are written once per RPC, so they skip the LogRecord and
    json.dumps (the fields are known; only their strings need quoting) and reach the writer in one
    hand-over. Before `configure` (a process that did not set up logging), they are those calls."""
    if not logger.isEnabledFor(logging.INFO):
        return
    if _configured is None:
        for _ended, method, code, duration_ms, request_id, client_ip in entries:
            fields = {"method": method, "code": code, "duration_ms": duration_ms}
            logger.info("rpc", extra=fields | {"request_id": request_id, "client_ip": client_ip})
        return
    formatter, writer = _configured
    common = (
        f'"level": "info", "service": {_quoted(formatter.service)}, "logger": {_quoted(logger.name)}, '
        '"msg": "rpc", "method": '
    )
    writer.put_many(
        [
            f'{{"ts": "{formatter.timestamp(created)}", {common}{_quoted(method)}, "code": "{code}", '
            f'"duration_ms": {float(duration_ms)!r}, "request_id": {_quoted(request_id)}, '
            f'"client_ip": {_quoted(client_ip)}}}'
            for created, method, code, duration_ms, request_id, client_ip in entries
        ]
    )


def configure(service: str, level: str = "INFO") -> None:
    global _configured
    # What a record would otherwise find out on every call (the caller's file and line by walking
    # the stack, thread, process): not in our lines, so not worth its cost per RPC.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    formatter, writer = JsonFormatter(service), BackgroundWriter(sys.stderr.fileno())
    handler = BackgroundHandler(writer)
    handler.setFormatter(formatter)
    _configured = (formatter, writer)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter stays at warnings.
    for noisy in ("asyncio", "nats", "docker", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
