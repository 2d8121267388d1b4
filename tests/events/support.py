"""Helpers of the events tests: background tasks, polling, and the relay as a process of its own."""

import asyncio
import contextlib
import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine

from tests.support.processes import LoggedProcess


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


def relay_process(env: dict[str, str], service: str) -> LoggedProcess:
    """`python -m dockyard_kit.events relay`: the outbox relay as an OS process of its own."""
    return LoggedProcess([sys.executable, "-m", "dockyard_kit.events", "relay", "--service", service], env)
