"""What a notification says and how each kind of channel receives it. Pure: the facts of an event
become a payload (stored with the delivery, so that every retry sends the same thing), and a payload
becomes a signed webhook request, a Slack or Discord message, or an email.

The webhook is signed like GitHub's: `X-Dockyard-Signature-256: sha256=<hex HMAC-SHA256 of the
exact body bytes under the channel's signing secret>`, with `X-Dockyard-Event` (the event) and
`X-Dockyard-Delivery` (the delivery's id, the same on every retry: a receiver de-duplicates on it).
"""

import dataclasses
import datetime
import email.message
import hashlib
import hmac
import json

SIGNATURE_HEADER = "X-Dockyard-Signature-256"
EVENT_HEADER = "X-Dockyard-Event"
DELIVERY_HEADER = "X-Dockyard-Delivery"
USER_AGENT = "Dockyard-Notifications/1"

# Channel events (as stored) -> the event's name in payloads and headers.
EVENT_NAMES = {
    "deployment_succeeded": "deployment.succeeded",
    "deployment_failed": "deployment.failed",
    "deployment_rolled_back": "deployment.rolled_back",
    "certificate_expiring": "certificate.expiring",
    "test": "test",
}
# The deployer's event types -> the channel event they are.
DEPLOYMENT_EVENTS = {
    "deployer.deployment.succeeded": "deployment_succeeded",
    "deployer.deployment.failed": "deployment_failed",
    "deployer.deployment.rolled_back": "deployment_rolled_back",
}
_OUTCOMES = {
    "deployment_succeeded": "succeeded",
    "deployment_failed": "failed",
    "deployment_rolled_back": "was rolled back",
}


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class Notification:
    """What one event announces: its channel event, a one-line summary and the JSON payload."""

    event: str
    summary: str
    payload: dict


@dataclasses.dataclass(frozen=True)
class DeploymentFacts:
    event_id: str
    event: str  # deployment_succeeded, deployment_failed or deployment_rolled_back
    occurred_at: datetime.datetime
    project_id: str
    project_name: str | None
    application_id: str
    application_name: str
    deployment_id: str
    status: str
    reason: str = ""
    commit_sha: str = ""
    image: str = ""
    triggered_by: str = ""


def deployment_notification(facts: DeploymentFacts) -> Notification:
    project = facts.project_name or facts.project_id
    summary = f"Deployment of {facts.application_name} in {project} {_OUTCOMES[facts.event]}"
    if facts.reason:
        summary += f": {facts.reason}"
    deployment = {"id": facts.deployment_id, "status": facts.status}
    for key in ("reason", "commit_sha", "image", "triggered_by"):
        if getattr(facts, key):
            deployment[key] = getattr(facts, key)
    payload = {
        "event": EVENT_NAMES[facts.event],
        "event_id": facts.event_id,
        "occurred_at": _iso(facts.occurred_at),
        "project": {"id": facts.project_id, "name": facts.project_name},
        "application": {"id": facts.application_id, "name": facts.application_name},
        "deployment": deployment,
        "status": facts.status,
        "summary": summary,
    }
    return Notification(facts.event, summary, payload)


def certificate_notification(
    certificate_id: str,
    domain: str,
    expires_at: datetime.datetime,
    project_id: str,
    project_name: str | None,
    now: datetime.datetime,
) -> Notification:
    days = max(0, (expires_at - now) // datetime.timedelta(days=1))
    when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
    summary = (
        f"The certificate of {domain} in {project_name or project_id} expires {when}"
        f" ({expires_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC)"
    )
    payload = {
        "event": EVENT_NAMES["certificate_expiring"],
        "occurred_at": _iso(now),
        "project": {"id": project_id, "name": project_name},
        "certificate": {"id": certificate_id, "domain": domain, "expires_at": _iso(expires_at)},
        "days_left": days,
        "summary": summary,
    }
    return Notification("certificate_expiring", summary, payload)


def certificate_dedupe_key(certificate_id: str, expires_at: datetime.datetime) -> str:
    """Once per certificate and expiry date: a renewal that moves the date warns again."""
    return f"certificate:{certificate_id}:{expires_at.astimezone(datetime.UTC):%Y-%m-%d}"


def channel_test_notification(channel_name: str, now: datetime.datetime) -> Notification:
    summary = f"Test notification from Dockyard for the channel {channel_name}"
    payload = {"event": EVENT_NAMES["test"], "occurred_at": _iso(now), "summary": summary}
    return Notification("test", summary, payload)


def sign(body: bytes, secret: str) -> str:
    """The X-Dockyard-Signature-256 value of `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(sign(body, secret), signature)


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    body: bytes
    headers: dict[str, str]


def webhook_request(payload: dict, delivery_id: str, signing_secret: str) -> HttpRequest:
    body = json.dumps({**payload, "delivery_id": delivery_id}, separators=(",", ":"), sort_keys=True).encode()
    return HttpRequest(
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(body, signing_secret),
            EVENT_HEADER: payload["event"],
            DELIVERY_HEADER: delivery_id,
        },
    )


def chat_request(kind: str, summary: str) -> HttpRequest:
    """Slack's incoming webhooks take {"text": ...}; Discord's take {"content": ...} (2,000
    characters at most)."""
    body = {"text": summary} if kind == "slack" else {"content": summary[:2000]}
    return HttpRequest(
        json.dumps(body).encode(), {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    )


def _details(payload: dict, prefix: str = "") -> list[str]:
    lines = []
    for key, value in payload.items():
        if key == "summary" or value is None:
            continue
        if isinstance(value, dict):
            lines.extend(_details(value, f"{prefix}{key}."))
        else:
            lines.append(f"{prefix}{key}: {value}")
    return lines


def email_message(
    payload: dict, summary: str, delivery_id: str, from_address: str, to_addresses: list[str]
) -> email.message.EmailMessage:
    """A plain text email: the summary as its subject and first line, then every fact."""
    message = email.message.EmailMessage()
    message["Subject"] = f"[Dockyard] {summary}"
    message["From"] = from_address
    message["To"] = ", ".join(to_addresses)
    message[EVENT_HEADER] = payload["event"]
    message[DELIVERY_HEADER] = delivery_id
    message.set_content("\n".join([summary, "", *_details(payload), f"delivery_id: {delivery_id}", ""]))
    return message
