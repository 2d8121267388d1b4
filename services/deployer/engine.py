"""The deployer's link to the Docker Engine, through the Docker SDK.

The SDK is blocking, so every call runs in a worker thread, and each is bounded by a short timeout:
a dead or unreachable engine must show up as an answer ("not available: connection refused"), never
as a caller waiting on it.
"""

import asyncio
import dataclasses
import os
import threading

import docker

# Bounds each HTTP request to the engine (connect and each read) and a whole status check.
STATUS_TIMEOUT_SECONDS = 3.0
MAX_ERROR_LENGTH = 200


@dataclasses.dataclass(frozen=True)
class EngineStatus:
    available: bool
    version: str = ""
    swarm_active: bool = False
    error: str = ""


class DockerEngine:
    """One Docker Engine, given by a `DOCKER_HOST`-style URL, or None for the environment's default
    (`DOCKER_HOST` and the Docker CLI's settings, else the local socket)."""

    def __init__(self, docker_host: str | None) -> None:
        self.docker_host = docker_host
        self._client: docker.DockerClient | None = None
        # Status checks run in several threads at once; only one of them may create the client.
        self._client_lock = threading.Lock()

    @property
    def address(self) -> str:
        """Where the engine is, for messages."""
        return self.docker_host or os.environ.get("DOCKER_HOST") or "the default Docker socket"

    async def status(self) -> EngineStatus:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._probe), STATUS_TIMEOUT_SECONDS)
        except TimeoutError:
            return EngineStatus(
                available=False, error=f"{self.address} did not answer within {STATUS_TIMEOUT_SECONDS:g} s"
            )
        except Exception as error:
            return EngineStatus(available=False, error=f"{self.address}: {explain_engine_error(error)}")

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _probe(self) -> EngineStatus:
        info = self._connected_client().info()
        return EngineStatus(
            available=True,
            version=info.get("ServerVersion", ""),
            swarm_active=info.get("Swarm", {}).get("LocalNodeState") == "active",
        )

    def open_client(self, timeout_seconds: float | None) -> docker.DockerClient:
        """A client of the caller's own (the caller closes it), for calls that outlast a status check:
        `timeout_seconds` bounds each request's connect and each read, None waits as long as the
        engine takes (a build step may be silent for minutes). Blocking: call it in a worker thread.
        Creating a client asks the engine for its API version, so it fails while the engine is down."""
        if self.docker_host is None:
            return docker.DockerClient.from_env(timeout=timeout_seconds)
        return docker.DockerClient(base_url=self.docker_host, timeout=timeout_seconds)

    def _connected_client(self) -> docker.DockerClient:
        # Nothing is kept while the engine is down, and the next call tries again.
        with self._client_lock:
            if self._client is None:
                self._client = self.open_client(STATUS_TIMEOUT_SECONDS)
            return self._client


def explain_engine_error(error: BaseException) -> str:
    """A one-line reason for a failed engine call: the operating system's own words ("Connection
    refused", "No such file or directory") when a socket error lies underneath the SDK's and urllib3's
    wrappers, else the error's message, shortened."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    message = " ".join(str(error).split()) or type(error).__name__
    return message if len(message) <= MAX_ERROR_LENGTH else message[: MAX_ERROR_LENGTH - 1] + "…"
