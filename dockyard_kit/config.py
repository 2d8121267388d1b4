"""Configuration from the environment, with the seed's variable names.

A bad value stops start-up with a message that names the variable (see `load`).
"""

import hashlib
import hmac
import pathlib
import sys
from typing import Annotated, TypeVar
from urllib.parse import unquote, urlparse

from pydantic import (
    AfterValidator,
    Field,
    FilePath,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from dockyard_kit import registry

Port = Annotated[int, Field(ge=1, le=65535)]

# Where the gateway puts its credential (DOCKYARD_GATEWAY_SECRET) on every request it forwards
# (gateway/envoy.py), replacing any copy a client sent; services check it (interceptors.py).
GATEWAY_CREDENTIAL_HEADER = "x-dockyard-gateway-credential"

# The events stream drops a re-published copy of an event within this window (the stream's
# duplicate_window, dockyard_kit/events/nats.py); here because inbox retention must outlast it.
EVENTS_DUPLICATE_WINDOW_SECONDS = 600

# Tolerated clock difference between identity and a verifier of its tokens (services and the gateway).
CLOCK_LEEWAY_SECONDS = 5


def _validate_address(value: str, lowest_port: int = 1) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not lowest_port <= int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


Address = Annotated[str, AfterValidator(_validate_address)]

# DOCKYARD_<SERVICE>_ADDR for every service of the registry: where its peers reach it.
_ServiceAddresses = create_model(
    "_ServiceAddresses",
    __base__=BaseSettings,
    **{service.address_variable: (Address, service.default_address) for service in registry.SERVICES},
)


class Settings(_ServiceAddresses):
    """What every Dockyard process reads from its environment; a service's own settings extend it
    in `services/<name>/settings.py`."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    # PostgreSQL: where the database is, and the platform's administrative login. Only the bootstrap
    # step (python -m dockyard_kit.bootstrap) and an operator's tools use the login; a service connects
    # as its own role, dockyard_<service>, with the password from its DOCKYARD_SERVICE_SECRET_FILE.
    DATABASE_URL: str | None = None
    POSTGRES_HOST: str = "127.0.0.1"
    POSTGRES_PORT: Port = 5432
    POSTGRES_DATABASE: str = "dockyard"
    POSTGRES_USER: str = "postgres"
    POSTGRES_PASSWORD: str | None = None
    POSTGRES_PASSWORD_FILE: pathlib.Path | None = None
    POSTGRES_SSL: bool = False

    # Pool defaults follow seed 000: 20 connections, 30 s idle, 2 s connect timeout.
    DOCKYARD_DB_POOL_MAX: Annotated[int, Field(ge=1, le=1000)] = 20
    # An idle connection costs PostgreSQL a backend process (about 16 MB RSS); one closed too soon
    # costs the next burst a reconnect (authentication, cold statement cache).
    DOCKYARD_DB_POOL_IDLE_SECONDS: Annotated[float, Field(gt=0)] = 30.0
    DOCKYARD_DB_CONNECT_TIMEOUT: Annotated[float, Field(gt=0)] = 2.0

    NATS_URL: str = "nats://127.0.0.1:4222"
    # This service's NATS user, when the server requires one (the embedded stack's does): it may
    # publish only its own events (see dockyard_kit/events/nats.py for the rights it needs).
    DOCKYARD_NATS_USER: str = ""
    DOCKYARD_NATS_PASSWORD: str | None = None
    DOCKYARD_NATS_PASSWORD_FILE: FilePath | None = None
    DOCKYARD_EVENTS_STREAM: str = "DOCKYARD"
    # The event plumbing's housekeeping (dockyard_kit/events/retention.py): how long an inbox
    # remembers an event id (longer than the stream's duplicate window), and how often each service
    # prunes its inbox and purges the stream of what every consumer has acknowledged.
    DOCKYARD_INBOX_RETENTION_HOURS: Annotated[float, Field(gt=0)] = 168.0
    DOCKYARD_STREAM_HOUSEKEEPING_SECONDS: Annotated[float, Field(gt=0)] = 300.0

    # Where this process listens, when not at its own DOCKYARD_<SERVICE>_ADDR (e.g. 0.0.0.0:50051 in a
    # container while its peers reach it by a service name).
    DOCKYARD_LISTEN_ADDR: str = ""
    # The credential the gateway adds to every request it forwards (`make run` generates it and gives
    # it to Envoy too): only a request carrying it has its X-Forwarded-For believed. Unset: none is.
    DOCKYARD_GATEWAY_SECRET: str | None = None
    DOCKYARD_GATEWAY_SECRET_FILE: pathlib.Path | None = None
    # Prometheus metrics of this process ("" turns the endpoint off; port 0 takes any free port).
    DOCKYARD_METRICS_ADDR: str = ""
    # Where the process writes, as JSON, the addresses it listens on once it does (set by `make run`).
    DOCKYARD_READY_FILE: pathlib.Path | None = None

    # The platform's master secret, held by the bootstrap step and an operator's tools only: each
    # service's role password, sealing keys and credential key are derived from it
    # (dockyard_kit/service_secrets.py) and handed to the service in its secrets file.
    DOCKYARD_SECRET_KEY: str | None = None
    DOCKYARD_SECRET_KEY_FILE: pathlib.Path | None = None
    # After a rotation: the previous master secrets, one per line, still used to decrypt values
    # until `python -m dockyard_kit.reencrypt` has moved them to the current one.
    DOCKYARD_PREVIOUS_SECRET_KEYS_FILE: pathlib.Path | None = None
    # A service's own secrets, written by the bootstrap step: what it holds instead of the above.
    DOCKYARD_SERVICE_SECRET_FILE: pathlib.Path | None = None

    # Access tokens: who issues them and for whom (identity signs them, every service and the
    # gateway check them).
    DOCKYARD_JWT_ISSUER: str = "dockyard"
    DOCKYARD_JWT_AUDIENCE: str = "dockyard"

    DOCKYARD_LOG_LEVEL: str = "INFO"
    # How long SIGTERM waits for in-flight RPCs before cancelling them.
    DOCKYARD_SHUTDOWN_GRACE_SECONDS: Annotated[float, Field(ge=0)] = 25.0

    @field_validator("DOCKYARD_METRICS_ADDR", "DOCKYARD_LISTEN_ADDR")
    @classmethod
    def _optional_address(cls, value: str) -> str:
        # Port 0: the process takes any free port and reports it (DOCKYARD_READY_FILE).
        return _validate_address(value, lowest_port=0) if value else value

    @field_validator("NATS_URL")
    @classmethod
    def _nats_url(cls, value: str) -> str:
        for url in value.split(","):
            parsed = urlparse(url.strip())
            if parsed.scheme not in ("nats", "tls", "ws", "wss") or not parsed.hostname:
                raise ValueError(f"expected nats://host:port, got {url!r}")
        return value

    @field_validator("DOCKYARD_INBOX_RETENTION_HOURS")
    @classmethod
    def _inbox_outlives_duplicate_window(cls, value: float) -> float:
        if value * 3600 <= EVENTS_DUPLICATE_WINDOW_SECONDS:
            raise ValueError(
                "must be longer than the events stream's duplicate window"
                f" ({EVENTS_DUPLICATE_WINDOW_SECONDS} s):"
                " a copy of an event arriving after its inbox row is pruned would apply twice"
            )
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if parsed.scheme not in ("postgres", "postgresql") or not parsed.hostname:
            raise ValueError("expected postgresql://user:password@host:port/database")
        return value

    @field_validator("DOCKYARD_LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _files_exist(self) -> "Settings":
        for name in (
            "POSTGRES_PASSWORD_FILE",
            "DOCKYARD_SECRET_KEY_FILE",
            "DOCKYARD_PREVIOUS_SECRET_KEYS_FILE",
            "DOCKYARD_GATEWAY_SECRET_FILE",
        ):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    # -- derived values -------------------------------------------------------------------------

    def service_address(self, service: str) -> str:
        """Where a service's peers reach it."""
        return getattr(self, registry.entry(service).address_variable)

    def gateway_secret(self) -> bytes:
        """The gateway's credential; empty when none is configured (then no request is believed to
        come from the gateway)."""
        if self.DOCKYARD_GATEWAY_SECRET_FILE is not None:
            secret = self.DOCKYARD_GATEWAY_SECRET_FILE.read_bytes().strip()
            return strong_secret(secret, "DOCKYARD_GATEWAY_SECRET_FILE")
        if self.DOCKYARD_GATEWAY_SECRET:
            return strong_secret(self.DOCKYARD_GATEWAY_SECRET.encode(), "DOCKYARD_GATEWAY_SECRET")
        return b""

    def listen_address(self, service: str) -> str:
        return self.DOCKYARD_LISTEN_ADDR or self.service_address(service)

    def admin_connection(self) -> dict:
        """Keyword arguments for asyncpg.connect as the administrative login."""
        if self.DATABASE_URL:
            url = urlparse(self.DATABASE_URL)
            return {
                "host": url.hostname,
                "port": url.port or 5432,
                "database": (url.path or "/dockyard").lstrip("/") or "dockyard",
                "user": unquote(url.username or "postgres"),
                "password": unquote(url.password) if url.password else None,
                "ssl": "require" if "sslmode=require" in (url.query or "") else self._ssl(),
            }
        return {
            "host": self.POSTGRES_HOST,
            "port": self.POSTGRES_PORT,
            "database": self.POSTGRES_DATABASE,
            "user": self.POSTGRES_USER,
            "password": self.postgres_password(),
            "ssl": self._ssl(),
        }

    def _ssl(self) -> str | None:
        return "require" if self.POSTGRES_SSL else None

    def postgres_password(self) -> str | None:
        if self.POSTGRES_PASSWORD_FILE is not None:
            return self.POSTGRES_PASSWORD_FILE.read_text().strip()
        return self.POSTGRES_PASSWORD

    def secret_key(self) -> bytes:
        if self.DOCKYARD_SECRET_KEY_FILE is not None:
            key, variable = self.DOCKYARD_SECRET_KEY_FILE.read_bytes().strip(), "DOCKYARD_SECRET_KEY_FILE"
        elif self.DOCKYARD_SECRET_KEY:
            key, variable = self.DOCKYARD_SECRET_KEY.encode(), "DOCKYARD_SECRET_KEY"
        else:
            raise ConfigError("DOCKYARD_SECRET_KEY or DOCKYARD_SECRET_KEY_FILE must be set")
        return strong_secret(key, variable)

    def previous_secret_keys(self) -> list[bytes]:
        if self.DOCKYARD_PREVIOUS_SECRET_KEYS_FILE is None:
            return []
        lines = self.DOCKYARD_PREVIOUS_SECRET_KEYS_FILE.read_bytes().splitlines()
        return [line.strip() for line in lines if line.strip()]

    def service_role_password(self, service: str) -> str:
        """The database password of a service's own login role under this master secret."""
        return role_password(self.secret_key(), service)

    def database_configured(self) -> bool:
        return bool(self.DATABASE_URL or self.POSTGRES_HOST)


def role_password(master_secret: bytes, service: str) -> str:
    """A service role's password, derived from the master secret so that every bootstrap run agrees
    on it without storing it anywhere (hex, so safe inside a SQL literal)."""
    return hmac.new(master_secret, f"dockyard-db-role:{service}".encode(), hashlib.sha256).hexdigest()


# How a service process says why it stopped: a bad setting, or a port it could not bind.
EXIT_INVALID_CONFIGURATION = 2
EXIT_CANNOT_LISTEN = 3


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


# Every secret a setting holds (the master secret, the gateway's credential) is at least this long:
# `make run` writes 64 hex characters, as does `python -c "import secrets; print(secrets.token_hex(32))"`.
MIN_SECRET_BYTES = 32


def strong_secret(secret: bytes, variable: str) -> bytes:
    """`secret`, unless it is too short to be a secret: ConfigError naming `variable`."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{variable}: the secret is {len(secret)} bytes long; use at least {MIN_SECRET_BYTES} random "
            'bytes, e.g. python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return secret


SettingsT = TypeVar("SettingsT", bound=Settings)


def load(settings_class: type[SettingsT] = Settings, **overrides) -> SettingsT:
    """Reads the environment into `settings_class` (a service's own, or the shared one); on a bad value
    prints which variable is wrong and exits with status 2. What a process needs beyond that (a
    service its secrets file, a tool the master secret) it checks itself, through `exit_invalid`."""
    try:
        settings = settings_class(**overrides)
        settings.gateway_secret()
        return settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            variable = ".".join(str(part) for part in error["loc"]) or "configuration"
            lines.append(f"  {variable}: {error['msg']}")
        sys.stderr.write("dockyard: invalid configuration\n" + "\n".join(lines) + "\n")
        raise SystemExit(EXIT_INVALID_CONFIGURATION) from None
    except ConfigError as exc:
        exit_invalid(exc)


def exit_invalid(error: ConfigError) -> None:
    """Says which setting is wrong and exits with status 2."""
    sys.stderr.write(f"dockyard: invalid configuration\n  {error}\n")
    raise SystemExit(EXIT_INVALID_CONFIGURATION) from None
