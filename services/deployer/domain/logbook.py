"""A deployment's log as it is written: lines from the pipeline (and from Docker's threads) are
collected and written in small batches, at most FLUSH_SECONDS apart, so a follower sees a build's
line within a fraction of a second while a chatty build costs one insert per batch, not per line.
Milestones ("building image", "rollout converged") also make the deployment's short summary."""

import asyncio
import datetime

import asyncpg

from dockyard_kit.db import transaction
from services.deployer.store import logs as log_store

FLUSH_SECONDS = 0.05
MAX_BATCH = 500
MAX_LINE_CHARS = 8192
MAX_SUMMARY_LINES = 40


class Logbook:
    def __init__(self, pool: asyncpg.Pool, deployment_id) -> None:
        self._pool = pool
        self._deployment_id = deployment_id
        self._loop = asyncio.get_running_loop()
        self._pending: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        # One batch at a time: a batch must commit before the next takes its ids (store/logs.py).
        self._writing = asyncio.Lock()
        self._flusher: asyncio.Task | None = None
        self.summary: list[str] = []
        self.started = datetime.datetime.now(datetime.UTC)

    def __enter__(self) -> "Logbook":
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"logbook-{self._deployment_id}")
        return self

    def __exit__(self, *_exc) -> None:
        if self._flusher is not None:
            self._flusher.cancel()

    def line(self, message: str, level: str = "info") -> None:
        for part in str(message).rstrip("\n").split("\n"):
            self._pending.append((level, part[:MAX_LINE_CHARS]))
        self._wake.set()

    def from_thread(self, message: str, level: str = "info") -> None:
        """`line`, callable from a worker thread (Docker's streams)."""
        self._loop.call_soon_threadsafe(self.line, message, level)

    def step(self, message: str, level: str = "info") -> None:
        """A milestone: a line, and a line of the summary."""
        self.line(message, level)
        if len(self.summary) < MAX_SUMMARY_LINES:
            self.summary.append(message)

    @property
    def summary_text(self) -> str:
        return "\n".join(self.summary)

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(FLUSH_SECONDS)

    async def flush(self) -> None:
        """Writes what is pending; the caller's final status goes after its last line."""
        async with self._writing:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                async with transaction(self._pool) as conn:
                    await log_store.append(conn, self._deployment_id, batch)
