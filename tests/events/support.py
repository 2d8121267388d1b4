"""Helpers of the events tests: the service schema they use and migrations run in it, an event to
send, background tasks, and the relay as a process of its own."""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Coroutine

from alembic.migration import MigrationContext
from alembic.operations import Operations
from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.config import Settings
from dockyard_kit.events import new_event
from dockyard_kit.migrations import service_engine
from tests.support.processes import LoggedProcess

# The service whose schema the tests use. Roles are cluster-wide, so the role is dropped afterwards.
SERVICE = "eventkit"


async def migrate(settings: Settings, change: Callable[[Operations, str], None]) -> None:
    """Runs `change(op, schema)` as a migration would: Alembic operations, as the service's role."""
    engine = service_engine(settings, SERVICE)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: change(Operations(MigrationContext.configure(sync)), SERVICE))
    finally:
        await engine.dispose()


def widget_changed(widget: str, value: int = 0) -> Event:
    return new_event(SERVICE, "widget", "changed", widget, wrappers_pb2.Int64Value(value=value))


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


def relay_process(env: dict[str, str], service: str) -> LoggedProcess:
    """`python -m dockyard_kit.events relay`: the outbox relay as an OS process of its own."""
    return LoggedProcess([sys.executable, "-m", "dockyard_kit.events", "relay", "--service", service], env)
