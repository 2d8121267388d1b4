"""How `make run` relays its children's output: whole lines after a prefix, in batches, and never
at the cost of a child blocked on a full pipe when the terminal does not read."""

import os
import sys
import time

from dockyard_kit.stack.components import ManagedProcess, Relay

# Far more than a pipe (64 KiB) and the relay's buffer in these tests hold together.
FLOOD_LINES = 200_000


class Child(ManagedProcess):
    """A Python one-liner as a supervised child."""

    def __init__(self, code: str, sink) -> None:
        super().__init__("envoy", sink)
        self.code = code

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code]


def run_to_its_end(child: Child) -> int:
    child.spawn()
    child.process.wait(timeout=10)
    return child.stop()


def read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def test_lines_reach_a_plain_output_after_the_childs_name(tmp_path):
    read_end, write_end = os.pipe()
    relay = Relay(write_end)
    child = Child("import sys; sys.stdout.write('one\\ntwo\\nno newline at the end')", relay)
    assert run_to_its_end(child) == 0
    assert relay.flush()
    assert read_all(read_end).decode() == (
        "    envoy │ one\n    envoy │ two\n    envoy │ no newline at the end\n"
    )
    assert list(child.recent_lines) == ["one", "two", "no newline at the end"]


def test_prefixes_are_coloured_when_asked():
    relay = Relay(os.open(os.devnull, os.O_WRONLY), {"envoy": "yellow", "audit": "bright_blue"})
    assert relay.prefix("envoy") == "\x1b[33m    envoy │ \x1b[0m".encode()
    assert relay.prefix("audit") == "\x1b[94m    audit │ \x1b[0m".encode()


def test_a_line_sink_still_gets_one_line_at_a_time():
    lines = []
    child = Child("print('first'); print('second')", lambda name, line: lines.append((name, line)))
    run_to_its_end(child)
    assert lines == [("envoy", "first"), ("envoy", "second")]


def test_a_child_never_blocks_on_an_output_nobody_reads():
    read_end, write_end = os.pipe()  # nobody reads it until the child is done
    relay = Relay(write_end, limit_bytes=1 << 20)
    flood = f"import sys\nfor n in range({FLOOD_LINES}): sys.stdout.write(f'request {{n}} answered\\n')"
    child = Child(flood, relay)
    started = time.monotonic()
    child.spawn()
    child.process.wait(timeout=20)
    assert time.monotonic() - started < 10
    child.stop()
    assert child.recent_lines[-1] == f"request {FLOOD_LINES - 1} answered"

    output = b""
    deadline = time.monotonic() + 10
    while b"dropped" not in output and time.monotonic() < deadline:
        output += read_all(read_end)
        time.sleep(0.05)
    relayed = output.count(b"    envoy \xe2\x94\x82 request ")
    notice = output.decode().splitlines()[-1]
    assert notice.endswith("lines of envoy's output dropped: the terminal did not keep up")
    dropped = int(notice.split("│ ")[1].split()[0])
    assert 0 < relayed < FLOOD_LINES
    assert relayed + dropped == FLOOD_LINES
