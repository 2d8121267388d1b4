"""The whole platform as a subprocess, started the way a person starts it."""

import json
import os
import pathlib
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from dockyard_kit.stack.components import free_port
from tests.conftest import REPO_ROOT


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = set(), [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class StackProcess:
    """`make run` (or any argv) in its own session, so Ctrl-C can be sent to its process group
    exactly as a terminal would."""

    def __init__(
        self, data_dir: pathlib.Path, argv: list[str] | None = None, env: dict[str, str] | None = None
    ):
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "DOCKYARD_DATA_DIR": str(data_dir),
            "DOCKYARD_GATEWAY_PORT": str(self.port),
            "TERM": "dumb",
            **(env or {}),
        }
        for variable in ("POSTGRES_HOST", "DATABASE_URL", "NATS_URL"):
            if env is None or variable not in env:
                self.env.pop(variable, None)
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            argv or ["make", "--no-print-directory", "run"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_running(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("the stack exited:\n" + "\n".join(self.lines[-40:]))
            if any("Dockyard is running" in line for line in self.lines):
                return
            time.sleep(0.2)
        raise AssertionError("the stack did not come up:\n" + "\n".join(self.lines[-40:]))

    def interrupt(self, timeout: float = 60) -> bool:
        """Ctrl-C: SIGINT to the foreground process group, as a terminal sends it. True when the
        launcher stopped everything cleanly (make itself reports the interrupt as its status)."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout)
        time.sleep(0.2)  # the last lines of output
        return code in (0, -signal.SIGINT) and "Dockyard stopped" in self.output()

    def output(self) -> str:
        return "\n".join(self.lines)
