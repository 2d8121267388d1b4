"""Images: building from a context directory, pulling and pushing, each streamed line by line.

on_line callbacks are called from the worker thread that reads the engine's stream, as each line
arrives; a caller on an event loop hops back with loop.call_soon_threadsafe.
"""

import collections
import pathlib
from collections.abc import Callable

from dockyard_kit.docker_config import RegistryAuth
from dockyard_kit.errors import FailedPrecondition
from services.deployer.docker.calls import Entry, stream
from services.deployer.engine import DockerEngine

# How many of a failed build's last output lines its error carries.
FAILURE_LINES = 15

OnLine = Callable[[str], None]


class BuildFailed(FailedPrecondition):
    """The Dockerfile did not build; the message ends with the build's last lines."""


class _Lines:
    """Splits the engine's text chunks (which may hold several lines, or part of one) into lines."""

    def __init__(self, on_line: OnLine) -> None:
        self._on_line = on_line
        self._partial = ""
        self.last = collections.deque(maxlen=FAILURE_LINES)

    def feed(self, text: str) -> None:
        *complete, self._partial = (self._partial + text).split("\n")
        for line in complete:
            self._emit(line)

    def flush(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = ""

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            self.last.append(line)
            self._on_line(line)


async def build(
    engine: DockerEngine, context_dir: pathlib.Path, dockerfile: str, tag: str, labels: dict, on_line: OnLine
) -> str:
    """Builds context_dir/dockerfile as tag (classic builder, intermediate containers removed even on
    failure or cancellation); the new image's id. A failing build raises BuildFailed."""
    lines = _Lines(on_line)
    built: dict = {}

    def on_entry(entry: Entry) -> None:
        if "stream" in entry:
            lines.feed(entry["stream"])
        elif "error" in entry:
            lines.flush()
            built["error"] = entry["error"].strip()
        elif isinstance(entry.get("aux"), dict) and "ID" in entry["aux"]:
            built["id"] = entry["aux"]["ID"]

    await stream(
        engine,
        lambda api: api.build(
            path=str(context_dir), dockerfile=dockerfile, tag=tag, labels=labels,
            rm=True, forcerm=True, decode=True,
        ),
        on_entry,
    )  # fmt: skip
    lines.flush()
    if "error" in built or "id" not in built:
        reason = built.get("error", "the engine ended the build without an image")
        raise BuildFailed(f"the build of {tag} failed: {reason}\n" + "\n".join(lines.last))
    return built["id"]


def _progress_reporter(on_line: OnLine) -> Callable[[Entry], None]:
    """Pull and push progress as lines: each layer's status when it changes (not every byte count)."""
    seen: dict[str, str] = {}

    def on_entry(entry: Entry) -> None:
        if "error" in entry:
            raise FailedPrecondition(entry["error"].strip())
        status = entry.get("status")
        if not status:
            return
        layer = entry.get("id", "")
        if layer and seen.get(layer) == status:
            return
        seen[layer] = status
        on_line(f"{layer}: {status}" if layer else status)

    return on_entry


def auth_config(auth: RegistryAuth | None) -> dict | None:
    if auth is None:
        return None
    config = {"username": auth.username, "password": auth.password}
    if auth.server_address:
        config["serveraddress"] = auth.server_address
    return config


async def pull(engine: DockerEngine, reference: str, auth: RegistryAuth | None, on_line: OnLine) -> None:
    """Pulls reference; FailedPrecondition naming it when no registry gives it."""
    try:
        await stream(
            engine,
            lambda api: api.pull(reference, stream=True, decode=True, auth_config=auth_config(auth)),
            _progress_reporter(on_line),
        )
    except FailedPrecondition as error:
        raise FailedPrecondition(
            f"image {reference} is not on the Docker Engine and could not be pulled: {error.message}"
        ) from None


async def push(engine: DockerEngine, repository: str, tag: str, on_line: OnLine) -> str:
    """Pushes repository:tag; the digest the registry stored it under."""
    pushed: dict = {}
    report = _progress_reporter(on_line)

    def on_entry(entry: Entry) -> None:
        aux = entry.get("aux")
        if isinstance(aux, dict) and "Digest" in aux:
            pushed["digest"] = aux["Digest"]
        report(entry)

    try:
        await stream(engine, lambda api: api.push(repository, tag, stream=True, decode=True), on_entry)
    except FailedPrecondition as error:
        raise FailedPrecondition(f"pushing {repository}:{tag} failed: {error.message}") from None
    if "digest" not in pushed:
        raise FailedPrecondition(f"pushing {repository}:{tag} failed: the registry returned no digest")
    return pushed["digest"]
