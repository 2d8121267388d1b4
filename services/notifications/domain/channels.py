"""Channels: their rules (each kind's config checked, bad input refused naming its field), their
secrets sealed at rest (dockyard_kit.sealing, bound to the channel's row) and never handed back,
and the calls on them, each once the caller may (domain/access.py)."""

import dataclasses
import datetime
import email.utils
import json
import uuid
from urllib.parse import urlsplit

import asyncpg

from dockyard_kit import pagination
from dockyard_kit.auth import Caller
from dockyard_kit.db import transaction
from dockyard_kit.errors import InvalidArgument
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import SECRET_MASK, Sealer
from services.notifications.domain import access, messages
from services.notifications.store import channels as channel_store
from services.notifications.store import deliveries as delivery_store

KINDS = ("webhook", "slack", "discord", "email")
SUBSCRIBABLE = ("deployment_succeeded", "deployment_failed", "deployment_rolled_back", "certificate_expiring")
TLS_MODES = {"implicit": 465, "starttls": 587}
DEFAULT_EXPIRY_DAYS = 14
MAX_URL_LENGTH = 2000
MAX_RECIPIENTS = 20
# Each kind's fields, those that are secrets among them, and the field that holds its URL.
FIELDS = {
    "webhook": ("url", "signing_secret"),
    "slack": ("webhook_url",),
    "discord": ("webhook_url",),
    "email": ("smtp_host", "smtp_port", "tls", "username", "password", "from_address", "to_addresses"),
}
SECRET_FIELDS = {"webhook": ("url", "signing_secret"), "slack": ("webhook_url",), "discord": ("webhook_url",),
                 "email": ("password",)}  # fmt: skip
# Paths an update may name besides each kind's config (whole, or field by field).
UPDATABLE = ("name", "enabled", "events", "certificate_expiring_within_days")


@dataclasses.dataclass(frozen=True)
class ChannelInput:
    """A channel as a request describes it; `config` holds the fields of its kind's config."""

    project_id: uuid.UUID | None
    team_id: uuid.UUID | None
    name: str
    kind: str
    config: dict
    events: list[str]
    certificate_expiring_within_days: int
    enabled: bool | None


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidArgument("name", "must be 1 to 100 characters")
    return name


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidArgument("events", f"name at least one of {', '.join(SUBSCRIBABLE)}")
    for event in events:
        if event not in SUBSCRIBABLE:
            raise InvalidArgument("events", f"must each be one of {', '.join(SUBSCRIBABLE)}")
    if len(set(events)) != len(events):
        raise InvalidArgument("events", "must name each event once")
    return [event for event in SUBSCRIBABLE if event in events]


def check_expiry_days(days: int, *, creating: bool) -> int:
    if days == 0 and creating:
        return DEFAULT_EXPIRY_DAYS
    if not 1 <= days <= 365:
        raise InvalidArgument("certificate_expiring_within_days", "must be 1 to 365 days")
    return days


def _check_secret(value: str, field: str) -> None:
    if SECRET_MASK in value:
        raise InvalidArgument(field, "must be the value itself, not its mask")


def check_url(url: str, field: str) -> str:
    url = url.strip()
    if not url:
        raise InvalidArgument(field, "is required")
    _check_secret(url, field)
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(field, f"must be an http or https URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise InvalidArgument(field, "has a port that is not a number from 1 to 65535") from None
    return url


def url_hint(url: str) -> str:
    """What responses show of a URL: its scheme and host (never credentials, path or query)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/{SECRET_MASK}"


def check_address(value: str, field: str) -> str:
    value = value.strip()
    _, address = email.utils.parseaddr(value)
    if not address or "@" not in address or len(value) > 320 or any(c in value for c in "\r\n"):
        raise InvalidArgument(field, "must be an email address")
    return value


def check_config(kind: str, fields: dict) -> tuple[dict, dict]:
    """(config kept in the clear, secrets to seal) of a kind's whole config."""
    if kind in ("slack", "discord"):
        url = check_url(fields.get("webhook_url", ""), f"{kind}.webhook_url")
        return {"url_hint": url_hint(url)}, {"url": url}
    if kind == "webhook":
        url = check_url(fields.get("url", ""), "webhook.url")
        secret = fields.get("signing_secret", "")
        _check_secret(secret, "webhook.signing_secret")
        if not 16 <= len(secret) <= 200:
            raise InvalidArgument("webhook.signing_secret", "must be 16 to 200 characters")
        return {"url_hint": url_hint(url)}, {"url": url, "signing_secret": secret}
    host = fields.get("smtp_host", "").strip()
    if not host or len(host) > 255 or any(c in host for c in " /@:\r\n"):
        raise InvalidArgument("email.smtp_host", "must be a host name or an address")
    tls = fields.get("tls", "")
    if tls not in TLS_MODES:
        raise InvalidArgument("email.tls", "must be SMTP_TLS_IMPLICIT or SMTP_TLS_STARTTLS")
    port = fields.get("smtp_port", 0) or TLS_MODES[tls]
    if not 1 <= port <= 65535:
        raise InvalidArgument("email.smtp_port", "must be 1 to 65535 (0 for the TLS mode's usual port)")
    username = fields.get("username", "").strip()
    password = fields.get("password", "")
    if len(username) > 255:
        raise InvalidArgument("email.username", "must be at most 255 characters")
    _check_secret(password, "email.password")
    if len(password) > 1000:
        raise InvalidArgument("email.password", "must be at most 1000 characters")
    if password and not username:
        raise InvalidArgument("email.username", "is required with a password")
    sender = check_address(fields.get("from_address", ""), "email.from_address")
    recipients = [check_address(r, "email.to_addresses") for r in fields.get("to_addresses", [])]
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise InvalidArgument("email.to_addresses", f"must hold 1 to {MAX_RECIPIENTS} addresses")
    config = {
        "smtp_host": host,
        "smtp_port": port,
        "tls": tls,
        "username": username,
        "has_password": bool(password),
        "from_address": sender,
        "to_addresses": recipients,
    }
    return config, ({"password": password} if password else {})


class Channels:
    """The calls on channels, with the service's sealer (the key ring its secrets are sealed with)."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def _seal(self, channel_id: uuid.UUID, secrets: dict) -> str:
        return self.sealer.seal("channels", "secrets", channel_id, json.dumps(secrets))

    def open_secrets(self, channel_id: uuid.UUID, sealed: str) -> dict:
        return json.loads(self.sealer.unseal("channels", "secrets", channel_id, sealed))

    def _fields(self, row) -> dict:
        """The channel's whole config as a request gives it, secrets opened."""
        config, secrets = json.loads(row["config"]), self.open_secrets(row["id"], row["secrets"])
        kind = row["kind"]
        if kind in ("slack", "discord"):
            return {"webhook_url": secrets["url"]}
        if kind == "webhook":
            return {"url": secrets["url"], "signing_secret": secrets["signing_secret"]}
        fields = {key: config[key] for key in FIELDS["email"] if key in config}
        return {**fields, "password": secrets.get("password", "")}

    async def create(self, pool: asyncpg.Pool, caller: Caller, channel: ChannelInput) -> asyncpg.Record:
        if (channel.project_id is None) == (channel.team_id is None):
            raise InvalidArgument("project_id", "set exactly one of project_id and team_id")
        if channel.kind not in KINDS:
            raise InvalidArgument("kind", "must be CHANNEL_KIND_WEBHOOK, _SLACK, _DISCORD or _EMAIL")
        values = {
            "id": uuid.uuid4(),
            "project_id": channel.project_id,
            "team_id": channel.team_id,
            "name": check_name(channel.name),
            "kind": channel.kind,
            "events": check_events(channel.events),
            "certificate_expiring_within_days": check_expiry_days(
                channel.certificate_expiring_within_days, creating=True
            ),
            "enabled": True if channel.enabled is None else channel.enabled,
        }
        config, secrets = check_config(channel.kind, channel.config)
        values["config"], values["secrets"] = config, self._seal(values["id"], secrets)
        async with transaction(pool) as conn:
            await access.authorize_owner(
                conn,
                caller,
                channel.project_id,
                channel.team_id,
                Level.MANAGE,
                action="creating a notification channel",
                wait_for_new=True,
            )
            return await channel_store.insert(conn, values)

    async def get(self, pool: asyncpg.Pool, caller: Caller, channel_id: uuid.UUID) -> asyncpg.Record:
        async with pool.acquire() as conn:
            row = await channel_store.fetch(conn, channel_id)
            if row is None:
                raise access.channel_not_found(channel_id)
            await access.authorize_channel(conn, caller, row, Level.READ, action="reading the channel")
        return row

    async def list(
        self,
        pool: asyncpg.Pool,
        caller: Caller,
        project_id: uuid.UUID | None,
        team_id: uuid.UUID | None,
        page_size: int,
        page_token: str,
    ) -> tuple[list, str]:
        if (project_id is None) == (team_id is None):
            raise InvalidArgument("project_id", "set exactly one of project_id and team_id")
        owner_column, owner_id = ("project_id", project_id) if project_id else ("team_id", team_id)
        page = pagination.parse_page(page_size, page_token, {"list": "channels", owner_column: str(owner_id)})
        after = page.newest_first_after  # (created_at, id) of the last row served
        async with pool.acquire() as conn:
            await access.authorize_owner(
                conn, caller, project_id, team_id, Level.READ, action="listing notification channels"
            )
            rows = await channel_store.page(conn, owner_column, owner_id, after, page.fetch_limit)
        return pagination.split_page(rows, page, pagination.newest_first_key)

    async def update(
        self, pool: asyncpg.Pool, caller: Caller, channel_id: uuid.UUID, changes: dict
    ) -> asyncpg.Record:
        """`changes`: values of UPDATABLE paths, and "<kind>.<field>" paths of the config."""
        async with transaction(pool) as conn:
            row = await channel_store.fetch(conn, channel_id, lock=True)
            if row is None:
                raise access.channel_not_found(channel_id)
            await access.authorize_channel(
                conn, caller, row, Level.MANAGE, action="changing a notification channel"
            )
            values = {}
            if "name" in changes:
                values["name"] = check_name(changes["name"])
            if "enabled" in changes:
                values["enabled"] = bool(changes["enabled"])
            if "events" in changes:
                values["events"] = check_events(changes["events"])
            if "certificate_expiring_within_days" in changes:
                values["certificate_expiring_within_days"] = check_expiry_days(
                    changes["certificate_expiring_within_days"], creating=False
                )
            config_changes = {path.partition(".")[2]: value for path, value in changes.items() if "." in path}
            for path in changes:
                if "." in path and path.partition(".")[0] != row["kind"]:
                    raise InvalidArgument(
                        "update_mask", f"{path} is not a field of this {row['kind']} channel"
                    )
            if config_changes:
                config, secrets = check_config(row["kind"], {**self._fields(row), **config_changes})
                values["config"], values["secrets"] = config, self._seal(row["id"], secrets)
            return await channel_store.update(conn, channel_id, values)

    async def delete(self, pool: asyncpg.Pool, caller: Caller, channel_id: uuid.UUID) -> None:
        async with transaction(pool) as conn:
            row = await channel_store.fetch(conn, channel_id, lock=True)
            if row is None:
                raise access.channel_not_found(channel_id)
            await access.authorize_channel(
                conn, caller, row, Level.MANAGE, action="deleting a notification channel"
            )
            await channel_store.delete(conn, channel_id)

    async def send_test(self, pool: asyncpg.Pool, caller: Caller, channel_id: uuid.UUID) -> asyncpg.Record:
        async with transaction(pool) as conn:
            row = await channel_store.fetch(conn, channel_id)
            if row is None:
                raise access.channel_not_found(channel_id)
            await access.authorize_channel(
                conn, caller, row, Level.MANAGE, action="testing a notification channel"
            )
            notification = messages.channel_test_notification(
                row["name"], datetime.datetime.now(datetime.UTC)
            )
            return await delivery_store.insert_one(
                conn, channel_id, "test", f"test:{uuid.uuid4()}", notification.payload, notification.summary
            )

    async def deliveries(
        self,
        pool: asyncpg.Pool,
        caller: Caller,
        channel_id: uuid.UUID,
        status: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list, dict, str]:
        """A page of the delivery log, newest first, with each delivery's attempts."""
        page = pagination.parse_page(
            page_size, page_token, {"list": "deliveries", "channel": str(channel_id), "status": status}
        )
        async with pool.acquire() as conn:
            row = await channel_store.fetch(conn, channel_id)
            if row is None:
                raise access.channel_not_found(channel_id)
            await access.authorize_channel(
                conn, caller, row, Level.MANAGE, action="reading a channel's deliveries"
            )
            rows = await delivery_store.page(
                conn, channel_id, status, page.newest_first_after, page.fetch_limit
            )
            served, next_token = pagination.split_page(rows, page, pagination.newest_first_key)
            history = await delivery_store.attempts_of(conn, [r["id"] for r in served])
        return served, history, next_token
