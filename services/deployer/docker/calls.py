"""How the adapter calls the blocking Docker SDK: in worker threads, with engine failures as the
platform's errors, and long streams (build, pull, push) cancellable.

A stream runs on a client of its own with no read timeout (a build step may be silent for minutes).
Cancelling it shuts that connection's socket: the worker's read fails at once, and the engine, seeing
its client gone, aborts the build or pull instead of finishing it for nobody.
"""

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import docker
import docker.errors
import requests.exceptions

from dockyard_kit.errors import FailedPrecondition, Unavailable
from services.deployer.engine import DockerEngine, explain_engine_error

# How long a cancelled stream's worker is given to notice that its socket was shut.
STREAM_STOP_SECONDS = 10.0

Entry = dict


def engine_unreachable(engine: DockerEngine, error: BaseException) -> Unavailable:
    return Unavailable(f"Docker Engine at {engine.address} is not reachable: {explain_engine_error(error)}")


def api_error_message(error: docker.errors.APIError) -> str:
    """The engine's own explanation ("No such image: x"), without the SDK's HTTP preamble."""
    return " ".join(str(error.explanation or error).split())


def translated(engine: DockerEngine, call: Callable, *args):
    """call(*args) in the current (worker) thread; the engine being down is Unavailable and any
    refusal left unhandled is FailedPrecondition with the engine's words."""
    try:
        return call(*args)
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError) as error:
        raise engine_unreachable(engine, error) from None
    except docker.errors.APIError as error:
        raise FailedPrecondition(f"Docker Engine: {api_error_message(error)}") from None


class _ResponseCatcher:
    """A requests response hook keeping the stream's response, so another thread can shut its socket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: list = []
        self.cancelled = False

    def __call__(self, response, *args, **kwargs) -> None:
        with self._lock:
            self._responses.append(response)
            cancelled = self.cancelled
        if cancelled:  # cancelled while the request was still being sent
            _shut(response)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            responses = list(self._responses)
        for response in responses:
            _shut(response)


def _shut(response) -> None:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


async def stream(
    engine: DockerEngine,
    start: Callable[[docker.APIClient], Iterator[Entry]],
    on_entry: Callable[[Entry], None],
) -> None:
    """Runs start(api), a streaming SDK call yielding decoded JSON entries, in a worker thread on a
    client of its own, handing each entry to on_entry in that thread. Cancellation stops the call
    promptly (see the module's docstring) before CancelledError propagates."""
    client = await asyncio.to_thread(translated, engine, engine.open_client, None)
    catcher = _ResponseCatcher()
    client.api.hooks["response"].append(catcher)

    def run() -> None:
        for entry in start(client.api):
            if catcher.cancelled:
                return
            on_entry(entry)

    worker = asyncio.ensure_future(asyncio.to_thread(translated, engine, run))
    try:
        await asyncio.shield(worker)
    except asyncio.CancelledError:
        catcher.cancel()
        await asyncio.wait({worker}, timeout=STREAM_STOP_SECONDS)
        if worker.done() and not worker.cancelled():
            worker.exception()  # the failed read it was stopped with: expected, not reported
        raise
    finally:
        if worker.done():
            client.close()
        else:
            worker.add_done_callback(lambda _: client.close())
