"""An application's `docker_config`: parsed and validated into frozen dataclasses.

Pure (no I/O): projects validates it at create/update, the deployer parses it at deploy time, and
both raise the same InvalidArgument naming the exact key path (`docker_config.ports[1].mode`).
"""

import dataclasses

from dockyard_kit.errors import InvalidArgument
from dockyard_kit.sealing import SECRET_MASK

ROOT = "docker_config"
# Platform limits when an application names none.
DEFAULT_CPUS = 1.0
DEFAULT_MEMORY_MB = 512
PULL_POLICIES = ("missing", "always")
PROTOCOLS = ("tcp", "udp")
PUBLISH_MODES = ("ingress", "host")


@dataclasses.dataclass(frozen=True)
class Port:
    target: int
    published: int | None = None
    protocol: str = "tcp"
    mode: str = "ingress"


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]
    interval_s: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    start_period_s: float | None = None


@dataclasses.dataclass(frozen=True)
class Resources:
    cpus: float = DEFAULT_CPUS
    memory_mb: int = DEFAULT_MEMORY_MB


@dataclasses.dataclass(frozen=True)
class RegistryAuth:
    username: str
    password: str
    server_address: str | None = None


@dataclasses.dataclass(frozen=True)
class DockerConfig:
    image: str | None = None
    command: tuple[str, ...] | str | None = None
    ports: tuple[Port, ...] = ()
    health_check: HealthCheck | None = None
    resources: Resources = Resources()
    pull: str = "missing"
    registry_auth: RegistryAuth | None = None


def _object(value, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise InvalidArgument(path, "must be an object")
    for key in value:
        if key not in allowed:
            raise InvalidArgument(f"{path}.{key}", "unknown key")
    for key in required:
        if key not in value:
            raise InvalidArgument(f"{path}.{key}", "is required")
    return value


def _string(value, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(path, "must be a non-empty string")
    return value


def _int(value, path: str, low: int, high: int | None = None) -> int:
    # bool is an int in Python; true is not a port.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(path, "must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidArgument(path, f"must be {bound}")
    return value


def _positive_number(value, path: str, description: str = "a number greater than 0") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidArgument(path, f"must be {description}")
    return float(value)


def _seconds(value, path: str) -> float:
    return _positive_number(value, path, "a number of seconds greater than 0")


def _choice(value, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidArgument(path, f"must be one of {', '.join(choices)}")
    return value


def _command(value, path: str) -> tuple[str, ...] | str:
    """A shell string, or an argv list of strings (non-empty)."""
    if isinstance(value, str):
        return _string(value, path)
    if not isinstance(value, list) or not value:
        raise InvalidArgument(path, "must be a string or a non-empty list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidArgument(f"{path}[{index}]", "must be a string")
    return tuple(value)


def _port(value, path: str) -> Port:
    raw = _object(value, path, ("target", "published", "protocol", "mode"), required=("target",))
    published = raw.get("published")
    return Port(
        target=_int(raw["target"], f"{path}.target", 1, 65535),
        published=None if published is None else _int(published, f"{path}.published", 1, 65535),
        protocol=_choice(raw.get("protocol", "tcp"), f"{path}.protocol", PROTOCOLS),
        mode=_choice(raw.get("mode", "ingress"), f"{path}.mode", PUBLISH_MODES),
    )


def _health_check(value, path: str) -> HealthCheck:
    raw = _object(
        value, path, ("test", "interval_s", "timeout_s", "retries", "start_period_s"), required=("test",)
    )
    test = _command(raw["test"], f"{path}.test")
    return HealthCheck(
        # A string is a shell command: Docker's CMD-SHELL form.
        test=("CMD-SHELL", test) if isinstance(test, str) else test,
        interval_s=_seconds(raw["interval_s"], f"{path}.interval_s") if "interval_s" in raw else None,
        timeout_s=_seconds(raw["timeout_s"], f"{path}.timeout_s") if "timeout_s" in raw else None,
        retries=_int(raw["retries"], f"{path}.retries", 0) if "retries" in raw else None,
        start_period_s=(
            _seconds(raw["start_period_s"], f"{path}.start_period_s") if "start_period_s" in raw else None
        ),
    )


def _resources(value, path: str) -> Resources:
    raw = _object(value, path, ("cpus", "memory_mb"))
    cpus = _positive_number(raw.get("cpus", DEFAULT_CPUS), f"{path}.cpus")
    memory = raw.get("memory_mb", DEFAULT_MEMORY_MB)
    return Resources(cpus=cpus, memory_mb=_int(memory, f"{path}.memory_mb", 1))


def _registry_auth(value, path: str) -> RegistryAuth:
    raw = _object(value, path, ("username", "password", "server_address"), required=("username", "password"))
    server = raw.get("server_address")
    return RegistryAuth(
        username=_string(raw["username"], f"{path}.username"),
        password=_string(raw["password"], f"{path}.password"),
        server_address=None if server is None else _string(server, f"{path}.server_address"),
    )


def parse(value, path: str = ROOT) -> DockerConfig:
    """The validated docker_config; InvalidArgument names the first offending key path."""
    if value is None:
        return DockerConfig()
    raw = _object(
        value, path, ("image", "command", "ports", "health_check", "resources", "pull", "registry_auth")
    )
    ports = raw.get("ports", [])
    if not isinstance(ports, list):
        raise InvalidArgument(f"{path}.ports", "must be a list")
    return DockerConfig(
        image=_string(raw["image"], f"{path}.image") if "image" in raw else None,
        command=_command(raw["command"], f"{path}.command") if "command" in raw else None,
        ports=tuple(_port(port, f"{path}.ports[{index}]") for index, port in enumerate(ports)),
        health_check=(
            _health_check(raw["health_check"], f"{path}.health_check") if "health_check" in raw else None
        ),
        resources=_resources(raw["resources"], f"{path}.resources") if "resources" in raw else Resources(),
        pull=_choice(raw.get("pull", "missing"), f"{path}.pull", PULL_POLICIES),
        registry_auth=(
            _registry_auth(raw["registry_auth"], f"{path}.registry_auth") if "registry_auth" in raw else None
        ),
    )


def masked(value: dict | None) -> dict | None:
    """The docker_config as given, with registry_auth.password replaced by the mask (API/event output)."""
    if not isinstance(value, dict):
        return value
    auth = value.get("registry_auth")
    if not isinstance(auth, dict) or "password" not in auth:
        return dict(value)
    return {**value, "registry_auth": {**auth, "password": SECRET_MASK}}
