"""One NATS connection per process, shared by its relay and consumers.

The link connects in the background and never gives up, so a service starts (and reports NATS as
down) while NATS is away, and its relay and consumers resume on their own when it is back.

Each service connects as its own NATS user (DOCKYARD_NATS_USER, DOCKYARD_NATS_PASSWORD[_FILE]), and
its replies arrive under an inbox of its own, `_INBOX.<service>.>`. What such a user must be allowed
(`service_permissions`; the embedded stack writes exactly that, an operator's server should too):
  publish: dockyard.<service>.>            its own events, and nobody else's
           $JS.API.STREAM.{CREATE,UPDATE,INFO}.<stream>   every service sets the stream up
           $JS.API.CONSUMER.CREATE.<stream>.*, $JS.API.CONSUMER.MSG.NEXT.<stream>.*   its consumers
           $JS.ACK.<stream>.>              acknowledging what they fetched
  subscribe: _INBOX.<service>.>            publish acks, API answers, fetched messages
JetStream durable names are single subject tokens, so the consumer rights cannot be narrowed to a
service's own durables by a wildcard; they are per stream.
"""

import asyncio
import logging

import nats
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from dockyard_kit.config import EVENTS_DUPLICATE_WINDOW_SECONDS, Settings
from dockyard_kit.events.outbox import ALL_SUBJECTS, SUBJECT_PREFIX

log = logging.getLogger("dockyard.events")

# The stream's duplicate window is config.EVENTS_DUPLICATE_WINDOW_SECONDS: JetStream drops a message
# whose Nats-Msg-Id it has seen within it, which covers a relay that re-publishes after a crash or
# an outage, as long as it comes back within the window.
RECONNECT_WAIT_SECONDS = 0.5
# A silent peer (no FIN, e.g. a network partition) is noticed after two unanswered pings.
PING_INTERVAL_SECONDS = 5
# JetStream error code: "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058


def inbox_prefix(service: str) -> str:
    return f"_INBOX.{service}"


# The one service whose user may list the stream's consumers and purge what all of them acked
# (events/retention.py): a purge is harmless as the housekeeping does it, but the right to purge is
# the right to empty the stream, so only one service holds it: the trail's, which keeps the
# platform's history anyway.
STREAM_KEEPER = "audit"


def service_permissions(service: str, stream: str) -> dict:
    """The NATS permissions of `service`'s user (nats-server's `permissions` block)."""
    keeping = [f"$JS.API.CONSUMER.LIST.{stream}", f"$JS.API.STREAM.PURGE.{stream}"]
    return {
        "publish": {
            "allow": [
                f"{SUBJECT_PREFIX}.{service}.>",
                *(f"$JS.API.STREAM.{verb}.{stream}" for verb in ("CREATE", "UPDATE", "INFO")),
                f"$JS.API.CONSUMER.CREATE.{stream}.*",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
                f"$JS.ACK.{stream}.>",
                *(keeping if service == STREAM_KEEPER else []),
            ]
        },
        "subscribe": {"allow": [f"{inbox_prefix(service)}.>"]},
    }


class NatsLink:
    def __init__(
        self,
        url: str,
        stream: str,
        *,
        name: str = "dockyard",
        user: str | None = None,
        password: str | None = None,
        # Where replies arrive (the client library's default unless the user's rights say otherwise).
        inbox: str = "_INBOX",
    ) -> None:
        self.url = url
        self.stream = stream
        self.name = name
        self.user = user
        self.password = password
        self.inbox = inbox
        self.client = nats.NATS()
        self.js: JetStreamContext = self.client.jetstream()
        # Bumped on every (re)connect: users redo server-side set-up (stream, consumers) when it moves,
        # in case the server came back without its store.
        self.generation = 0
        self.last_error: str | None = "not connected yet"
        self._stream_generation = -1
        self._up = asyncio.Event()
        self._connecting: asyncio.Task | None = None

    @classmethod
    def from_settings(cls, settings: Settings, service: str, *, name: str | None = None) -> "NatsLink":
        """The link of `service`, as its own NATS user when one is configured."""
        password = settings.DOCKYARD_NATS_PASSWORD
        if settings.DOCKYARD_NATS_PASSWORD_FILE is not None:
            password = settings.DOCKYARD_NATS_PASSWORD_FILE.read_text().strip()
        return cls(
            settings.NATS_URL,
            settings.DOCKYARD_EVENTS_STREAM,
            name=name or service,
            user=settings.DOCKYARD_NATS_USER or None,
            password=password,
            inbox=inbox_prefix(service),
        )

    @property
    def connected(self) -> bool:
        return self.client.is_connected

    def start(self) -> None:
        """Starts connecting in the background; returns at once."""
        self._connecting = asyncio.create_task(self._connect(), name=f"nats-connect-{self.name}")

    async def _connect(self) -> None:
        try:
            await self.client.connect(
                [url.strip() for url in self.url.split(",")],
                name=self.name,
                user=self.user,
                password=self.password,
                inbox_prefix=self.inbox,
                max_reconnect_attempts=-1,  # also retries the first connection for ever
                reconnect_time_wait=RECONNECT_WAIT_SECONDS,
                connect_timeout=2,
                ping_interval=PING_INTERVAL_SECONDS,
                max_outstanding_pings=2,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_connected,
            )
        except Exception as exc:  # the client retries connection failures; this is anything else
            self.last_error = str(exc) or type(exc).__name__
            log.error("NATS link gave up connecting", exc_info=True)
            return
        await self._on_connected()

    async def _on_connected(self) -> None:
        self.generation += 1
        self.last_error = None
        self._up.set()
        server = self.client.connected_url  # host and port only: the URL may carry credentials
        log.info("NATS connected", extra={"server": f"{server.hostname}:{server.port}"})

    async def _on_disconnected(self) -> None:
        self._up.clear()
        # Neither the first connection's failed attempts nor our own close() are outages.
        if self.generation and not self.client.is_closed:
            self.last_error = "disconnected"
            log.warning("NATS disconnected; reconnecting")

    async def _on_error(self, exc: Exception) -> None:
        self.last_error = str(exc) or type(exc).__name__
        log.debug("NATS error", extra={"error": self.last_error})

    async def wait_connected(self) -> None:
        await self._up.wait()

    async def ensure_stream(self) -> None:
        """Creates the events stream, or brings its configuration back to ours; once per connection,
        and again after `stream_missing()`."""
        if self._stream_generation == self.generation:
            return
        generation = self.generation
        config = StreamConfig(
            name=self.stream,
            subjects=[ALL_SUBJECTS],
            storage=StorageType.FILE,
            duplicate_window=EVENTS_DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            await self.js.update_stream(config)
            log.info("events stream configuration updated", extra={"stream": self.stream})
        self._stream_generation = generation

    def stream_missing(self) -> None:
        """A publish found no stream (deleted while we were connected): set it up again next time."""
        self._stream_generation = -1

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if not self.client.is_closed:
            await self.client.close()
