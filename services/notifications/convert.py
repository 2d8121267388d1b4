"""Between the notifications schema's rows and the contract's messages: channels with their secrets
masked (never their values), deliveries with their attempts, and the contract's enums to the names
the schema keeps."""

import json

from dockyard.notifications.v1 import notifications_pb2 as pb
from dockyard_kit import protoconv
from dockyard_kit.sealing import SECRET_MASK

KINDS = {
    pb.CHANNEL_KIND_WEBHOOK: "webhook",
    pb.CHANNEL_KIND_SLACK: "slack",
    pb.CHANNEL_KIND_DISCORD: "discord",
    pb.CHANNEL_KIND_EMAIL: "email",
}
EVENTS = {
    pb.NOTIFICATION_EVENT_DEPLOYMENT_SUCCEEDED: "deployment_succeeded",
    pb.NOTIFICATION_EVENT_DEPLOYMENT_FAILED: "deployment_failed",
    pb.NOTIFICATION_EVENT_DEPLOYMENT_ROLLED_BACK: "deployment_rolled_back",
    pb.NOTIFICATION_EVENT_CERTIFICATE_EXPIRING: "certificate_expiring",
    pb.NOTIFICATION_EVENT_TEST: "test",
}
TLS_MODES = {pb.SMTP_TLS_IMPLICIT: "implicit", pb.SMTP_TLS_STARTTLS: "starttls"}
STATUSES = {
    pb.DELIVERY_STATUS_PENDING: "pending",
    pb.DELIVERY_STATUS_DELIVERED: "delivered",
    pb.DELIVERY_STATUS_FAILED: "failed",
}


def _reverse(mapping: dict) -> dict:
    return {name: number for number, name in mapping.items()}


KIND_NUMBERS, EVENT_NUMBERS = _reverse(KINDS), _reverse(EVENTS)
TLS_NUMBERS, STATUS_NUMBERS = _reverse(TLS_MODES), _reverse(STATUSES)


def _text(value) -> str:
    return "" if value is None else str(value)


def channel(row) -> pb.NotificationChannel:
    config = json.loads(row["config"])
    message = pb.NotificationChannel(
        id=str(row["id"]),
        project_id=_text(row["project_id"]),
        team_id=_text(row["team_id"]),
        name=row["name"],
        kind=KIND_NUMBERS[row["kind"]],
        events=[EVENT_NUMBERS[event] for event in row["events"]],
        certificate_expiring_within_days=row["certificate_expiring_within_days"],
        enabled=row["enabled"],
    )
    kind = row["kind"]
    if kind == "webhook":
        message.webhook.CopyFrom(pb.WebhookConfig(url=config["url_hint"], signing_secret=SECRET_MASK))
    elif kind == "slack":
        message.slack.CopyFrom(pb.SlackConfig(webhook_url=config["url_hint"]))
    elif kind == "discord":
        message.discord.CopyFrom(pb.DiscordConfig(webhook_url=config["url_hint"]))
    else:
        message.email.CopyFrom(
            pb.EmailConfig(
                smtp_host=config["smtp_host"],
                smtp_port=config["smtp_port"],
                tls=TLS_NUMBERS[config["tls"]],
                username=config["username"],
                password=SECRET_MASK if config["has_password"] else "",
                from_address=config["from_address"],
                to_addresses=config["to_addresses"],
            )
        )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message


def delivery(row, attempts=()) -> pb.Delivery:
    message = pb.Delivery(
        id=str(row["id"]),
        channel_id=str(row["channel_id"]),
        event=EVENT_NUMBERS[row["event"]],
        dedupe_key=row["dedupe_key"],
        status=STATUS_NUMBERS[row["status"]],
        attempts=row["attempts"],
        last_http_status=row["last_http_status"] or 0,
        last_error=_text(row["last_error"]),
        summary=row["summary"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    if row["last_attempt_at"] is not None:
        protoconv.set_timestamp(message.last_attempt_at, row["last_attempt_at"])
    if row["status"] == "pending":
        protoconv.set_timestamp(message.next_attempt_at, row["next_attempt_at"])
    if row["delivered_at"] is not None:
        protoconv.set_timestamp(message.delivered_at, row["delivered_at"])
    for attempt in attempts:
        item = message.history.add(
            attempt=attempt["attempt"],
            http_status=attempt["http_status"] or 0,
            error=_text(attempt["error"]),
            duration_ms=attempt["duration_ms"],
        )
        protoconv.set_timestamp(item.attempted_at, attempt["attempted_at"])
    return message
