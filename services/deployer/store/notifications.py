"""PostgreSQL notifications the deployer waits on, over one listening connection per process:
new log lines of a deployment (followers), new deployments queued and cancels asked (workers).
A waiter that misses a notification (the connection was being re-opened) still wakes at its own
timeout and re-reads the database, so a notification only ever makes things faster."""

import asyncio
import collections
import contextlib
import logging

import asyncpg

log = logging.getLogger("dockyard.deployer.notifications")

QUEUED_CHANNEL = "dockyard_deployments_queued"
CANCEL_CHANNEL = "dockyard_deployment_cancel"


async def notify(conn: asyncpg.Connection, channel: str, payload: str = "") -> None:
    """Delivered when the caller's transaction commits."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


class Notifications:
    def __init__(self, connect, channels: tuple[str, ...]) -> None:
        # connect(): a new connection as the service's role, outside the pool (it stays listening).
        self._connect = connect
        self._channels = channels
        # (channel, payload or "") -> events of the waiters.
        self._waiters: dict[tuple[str, str], set[asyncio.Event]] = collections.defaultdict(set)

    async def run(self) -> None:
        """Listens until cancelled, reconnecting after a lost connection."""
        while True:
            try:
                conn = await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen for notifications; retrying", extra={"error": str(exc)})
                await asyncio.sleep(1.0)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            try:
                for channel in self._channels:
                    await conn.add_listener(channel, self._dispatch)
                await lost.wait()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("notifications connection lost", extra={"error": str(exc)})
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(0.2)

    def _dispatch(self, _conn, _pid, channel: str, payload: str) -> None:
        for key in ((channel, payload), (channel, "")):
            for event in self._waiters.get(key, ()):
                event.set()

    def poke(self, channel: str, payload: str = "") -> None:
        """Wakes this process's subscribers as a notification would."""
        self._dispatch(None, 0, channel, payload)

    @contextlib.contextmanager
    def subscribe(self, channel: str, payload: str = ""):
        """A subscription to `channel` (notifications with `payload`, or all when ""), for as long as
        the block runs. Subscribe before reading what a notification announces, so that none is
        missed between the read and the wait."""
        subscription = Subscription()
        key = (channel, payload)
        self._waiters[key].add(subscription.event)
        try:
            yield subscription
        finally:
            self._waiters[key].discard(subscription.event)
            if not self._waiters[key]:
                del self._waiters[key]


class Subscription:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Whether a notification came since the last wait (or within `seconds`); then re-armed."""
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self.event.clear()
