"""Waiting for something that happens a little later (an event reaching a read model, a relay
taking over): poll until it holds, fail the test with what did not happen."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


def eventually(check: Callable, timeout: float = 10.0, interval: float = 0.1):
    """`check()`'s first truthy result within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"not true within {timeout}s"
            return result
        time.sleep(interval)


async def eventually_async(check: Callable[[], bool | Awaitable[bool]], within: float, what: str) -> float:
    """Polls `check` (plain or awaitable) on the event loop until it holds; returns how long that
    took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {within:.0f}s")
