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

from dockyard_kit.stack.components import START_ATTEMPTS, free_port
from tests.support.paths import REPO_ROOT

# What the launcher says when the gateway's (fixed) port is taken.
GATEWAY_PORT_TAKEN = "so the gateway cannot listen there"


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
    exactly as a terminal would. Unless `env` fixes DOCKYARD_GATEWAY_PORT, the gateway gets a free
    port, and another one should that be taken before Envoy binds it (the launcher never moves it)."""

    def __init__(
        self, data_dir: pathlib.Path, argv: list[str] | None = None, env: dict[str, str] | None = None
    ):
        self.data_dir = data_dir
        self.argv = argv or ["make", "--no-print-directory", "run"]
        self.port_chosen_here = "DOCKYARD_GATEWAY_PORT" not in (env or {})
        self.port = free_port() if self.port_chosen_here else int(env["DOCKYARD_GATEWAY_PORT"])
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
        # What listens where, from the launcher's state file once it runs.
        self.state: dict = {}
        self._spawn()

    def _spawn(self) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process, self.lines), daemon=True).start()

    @staticmethod
    def _read(process: subprocess.Popen, lines: list[str]) -> None:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    @property
    def addresses(self) -> dict[str, str]:
        """Each service's gRPC address, as the launcher chose it."""
        return self.state["services"]

    def wait_running(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        attempts = 1
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines of output
                if (
                    self.port_chosen_here
                    and GATEWAY_PORT_TAKEN in self.output()
                    and attempts < START_ATTEMPTS
                ):
                    attempts += 1
                    self.port = free_port()
                    self.env["DOCKYARD_GATEWAY_PORT"] = str(self.port)
                    self._spawn()
                    continue
                raise AssertionError("the stack exited:\n" + "\n".join(self.lines[-40:]))
            if any("Dockyard is running" in line for line in self.lines):
                self.state = json.loads((self.data_dir / "stack.json").read_text())
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
