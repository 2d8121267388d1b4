"""Helpers of the events tests: background tasks, polling, and the relay as a process of its own."""

import asyncio
import contextlib
import inspect
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine

from tests.conftest import REPO_ROOT


@contextlib.asynccontextmanager
async def running(*coroutines: Coroutine) -> AsyncIterator[list[asyncio.Task]]:
    """Runs coroutines (relays, consumers, writers) for the block, then cancels what still runs; a
    task that raised fails the test on the way out."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        yield tasks
    finally:
        crashed = [
            task.exception() for task in tasks if task.done() and not task.cancelled() and task.exception()
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert not crashed, f"background task ended: {crashed!r}"


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float, what: str) -> float:
    """Polls `check` until it holds; returns how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {within:.0f}s")


class RelayProcess:
    """`python -m dockyard_kit.events relay`, its JSON log lines kept for asserts."""

    def __init__(self, env: dict[str, str], service: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard_kit.events", "relay", "--service", service],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
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

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=2)
        return self.process.returncode
