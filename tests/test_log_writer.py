"""The structured log's writer thread (logs.BackgroundWriter) on a pipe nobody reads: `put` never
blocks, lines past max_pending are dropped and counted, and once the pipe drains they come out in
order, followed by how many were dropped; `flush` waits until what was put is written. And
JsonFormatter's line."""

import contextlib
import json
import logging
import os
import re
import sys
import threading
import time

import pytest

from dockyard_kit import logs
from dockyard_kit.logs import BackgroundWriter, JsonFormatter

LINES = 1000
MAX_PENDING = 100


@pytest.fixture
def pipe():
    """(read end, write end) of a pipe, closed afterwards."""
    ends = os.pipe()
    yield ends
    for fd in ends:
        with contextlib.suppress(OSError):
            os.close(fd)


def fill(fd: int) -> int:
    """Writes to `fd` until the pipe is full (the next write would block); the bytes written."""
    os.set_blocking(fd, False)
    written = 0
    chunk = b"f" * 4096
    try:
        while True:
            written += os.write(fd, chunk)
    except BlockingIOError:
        pass
    # One byte more may still fit after a partial chunk was refused.
    with contextlib.suppress(BlockingIOError):
        while True:
            written += os.write(fd, b"f")
    os.set_blocking(fd, True)
    return written


def read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += os.read(fd, size - len(data))
    return data


def read_all(fd: int) -> bytes:
    """Everything the pipe holds now, without waiting for more."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            data += chunk
    os.set_blocking(fd, True)
    return data


def in_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_puts_return_while_the_pipe_is_full_and_past_max_pending_lines_are_dropped(pipe):
    read_end, write_end = pipe
    filler = fill(write_end)
    writer = BackgroundWriter(write_end, max_pending=MAX_PENDING)

    putting = in_thread(lambda: [writer.put(f"line {n}") for n in range(LINES)])
    putting.join(timeout=5)
    assert not putting.is_alive(), "put blocked on a full pipe"

    # Now the reader drains the pipe: the filler, then what the writer kept.
    assert read_exactly(read_end, filler) == b"f" * filler
    writer.close()
    os.close(write_end)
    lines = b"".join(iter(lambda: os.read(read_end, 65536), b"")).decode().splitlines()

    *kept, last = lines
    assert MAX_PENDING <= len(kept) < LINES
    assert kept == [f"line {n}" for n in range(len(kept))]  # in order, the first ones kept
    assert json.loads(last) == {"level": "warning", "msg": "log lines dropped", "dropped": LINES - len(kept)}


def test_nothing_is_said_of_drops_when_none_happened(pipe):
    read_end, write_end = pipe
    writer = BackgroundWriter(write_end, max_pending=MAX_PENDING)
    for n in range(3):
        writer.put(f"line {n}")
    writer.flush()

    assert read_all(read_end).decode().splitlines() == ["line 0", "line 1", "line 2"]
    assert writer.dropped == 0
    writer.close()


def test_flush_waits_until_what_was_put_is_written(pipe):
    read_end, write_end = pipe
    filler = fill(write_end)
    writer = BackgroundWriter(write_end, max_pending=MAX_PENDING)
    writer.put("first")
    writer.put("second")

    drained = threading.Event()

    def slow_reader() -> None:
        time.sleep(0.3)  # flush must not return before this reader has made room
        read_exactly(read_end, filler)
        drained.set()

    reader = in_thread(slow_reader)
    writer.flush(timeout=10)

    assert drained.is_set()
    assert read_all(read_end) == b"first\nsecond\n"
    reader.join(timeout=5)
    writer.close()


def test_flush_gives_up_after_its_timeout_while_the_pipe_stays_full(pipe):
    read_end, write_end = pipe
    filler = fill(write_end)
    writer = BackgroundWriter(write_end, max_pending=MAX_PENDING)
    writer.put("stuck")

    flushing = in_thread(lambda: writer.flush(timeout=0.2))
    flushing.join(timeout=5)
    assert not flushing.is_alive()

    read_exactly(read_end, filler)
    writer.flush(timeout=10)
    assert read_all(read_end) == b"stuck\n"
    writer.close()


def test_a_json_line_has_the_fields_and_the_extras():
    record = logging.LogRecord("dockyard.rpc", logging.WARNING, __file__, 1, "slow %s", ("call",), None)
    record.created = 1_700_000_000.25  # 2023-11-14T22:13:20.250 UTC, exact in binary
    record.__dict__.update({"method": "/dockyard.projects.v1.ProjectService/GetProject", "elapsed_ms": 1.5})

    entry = json.loads(JsonFormatter("projects").format(record))

    assert entry == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "warning",
        "service": "projects",
        "logger": "dockyard.rpc",
        "msg": "slow call",
        "method": "/dockyard.projects.v1.ProjectService/GetProject",
        "elapsed_ms": 1.5,
    }


def test_timestamps_have_milliseconds_and_follow_the_second():
    formatter = JsonFormatter("identity")
    stamps = []
    for created in (1_700_000_000.0, 1_700_000_000.5, 1_700_000_001.125, 1_700_000_000.75):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        record.created = created
        stamps.append(json.loads(formatter.format(record))["ts"])

    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp) for stamp in stamps)
    assert stamps == [
        "2023-11-14T22:13:20.000Z",
        "2023-11-14T22:13:20.500Z",
        "2023-11-14T22:13:21.125Z",
        "2023-11-14T22:13:20.750Z",
    ]


def test_an_exception_is_logged_with_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())

    entry = json.loads(JsonFormatter("projects").format(record))

    assert entry["msg"] == "failed" and "ValueError: boom" in entry["exception"]


def test_an_access_line_is_the_line_the_formatter_would_write_whatever_its_strings(pipe, monkeypatch):
    read_end, write_end = pipe
    formatter, writer = JsonFormatter("projects"), BackgroundWriter(write_end, max_pending=MAX_PENDING)
    monkeypatch.setattr(logs, "_configured", (formatter, writer))
    logger = logging.getLogger("dockyard_kit.interceptors")
    monkeypatch.setattr(logger, "level", logging.INFO)
    awkward = 'req "42"\\\n\u00e9\u2603\x01'  # quotes, a backslash, a newline, non-ASCII, a control
    entries = [
        (1_700_000_000.25, "/dockyard.projects.v1.ProjectService/GetProject", "OK", 1.5, "req-1", "10.0.0.7"),
        (1_700_000_001.5, "/x.Y/Z", "NOT_FOUND", 12.0, awkward, "::1"),
    ]

    logs.access_lines(logger, entries)
    writer.flush()
    written = read_all(read_end).decode().splitlines()
    writer.close()

    expected = []
    for created, method, code, duration_ms, request_id, client_ip in entries:
        record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "rpc", None, None)
        record.created = created
        fields = {"method": method, "code": code, "duration_ms": duration_ms, "request_id": request_id}
        record.__dict__.update(fields | {"client_ip": client_ip})
        expected.append(formatter.format(record))
    assert written == expected
    assert json.loads(written[1])["request_id"] == awkward


def test_a_batch_past_the_room_left_keeps_its_first_lines_and_counts_the_rest(pipe):
    read_end, write_end = pipe
    filler = fill(write_end)
    writer = BackgroundWriter(write_end, max_pending=MAX_PENDING)
    writer.put_many([f"line {n}" for n in range(MAX_PENDING + 15)])

    assert read_exactly(read_end, filler) == b"f" * filler
    writer.close()
    os.close(write_end)
    *kept, last = b"".join(iter(lambda: os.read(read_end, 65536), b"")).decode().splitlines()
    assert kept == [f"line {n}" for n in range(MAX_PENDING)]
    assert json.loads(last) == {"level": "warning", "msg": "log lines dropped", "dropped": 15}
