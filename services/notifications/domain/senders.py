"""Sending one delivery to its channel: an HTTP POST (webhook, Slack, Discord) with httpx, or an
email with aiosmtplib over implicit TLS or STARTTLS (the server's certificate always verified).
Each send ends in an Outcome (accepted or not, the HTTP status, the error in a line); a send never
raises for the receiver's sake, so the dispatcher records every attempt."""

import dataclasses
import ssl
import time

import aiosmtplib
import httpx

from services.notifications.domain import messages

# How much of a refusing receiver's body is kept in the error.
ERROR_BODY_CHARS = 200


@dataclasses.dataclass(frozen=True)
class Outcome:
    accepted: bool
    http_status: int | None = None
    error: str = ""
    duration_ms: int = 0


@dataclasses.dataclass(frozen=True)
class Channel:
    """What a send needs of a channel: its kind, its (opened) secrets and its config."""

    name: str
    kind: str
    config: dict
    secrets: dict


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


class Senders:
    def __init__(self, timeout: float, smtp_ca_file: str | None = None) -> None:
        self.timeout = timeout
        self.tls_context = ssl.create_default_context()
        if smtp_ca_file:
            self.tls_context.load_verify_locations(cafile=smtp_ca_file)
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, channel: Channel, delivery_id: str, payload: dict, summary: str) -> Outcome:
        started = time.monotonic()
        if channel.kind == "email":
            outcome = await self._email(channel, delivery_id, payload, summary)
        else:
            if channel.kind == "webhook":
                request = messages.webhook_request(payload, delivery_id, channel.secrets["signing_secret"])
            else:
                request = messages.chat_request(channel.kind, summary)
            outcome = await self._post(channel.secrets["url"], request)
        return dataclasses.replace(outcome, duration_ms=int((time.monotonic() - started) * 1000))

    async def _post(self, url: str, request: messages.HttpRequest) -> Outcome:
        try:
            response = await self._http.post(url, content=request.body, headers=request.headers)
        except httpx.TimeoutException:
            return Outcome(False, error=f"no answer within {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return Outcome(False, error=_describe(exc))
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        text = response.text[:ERROR_BODY_CHARS].strip()
        error = f"HTTP {response.status_code}" + (f": {text}" if text else "")
        return Outcome(False, response.status_code, error)

    async def _email(self, channel: Channel, delivery_id: str, payload: dict, summary: str) -> Outcome:
        config = channel.config
        message = messages.email_message(
            payload, summary, delivery_id, config["from_address"], config["to_addresses"]
        )
        implicit = config["tls"] == "implicit"
        try:
            await aiosmtplib.send(
                message,
                hostname=config["smtp_host"],
                port=config["smtp_port"],
                username=config.get("username") or None,
                password=channel.secrets.get("password") or None,
                use_tls=implicit,
                start_tls=not implicit,
                tls_context=self.tls_context,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            return Outcome(False, error=_describe(exc))
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            return Outcome(False, error=_describe(exc))
        return Outcome(True)
