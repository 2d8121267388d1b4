"""The pure parts of notifications: the retry schedule (exponential, jittered, capped, given up),
the webhook's signature (GitHub's scheme), and what each kind of channel is sent."""

import datetime
import email
import hashlib
import hmac
import json
import random

import pytest

from dockyard_kit.errors import InvalidArgument
from services.notifications.domain import messages
from services.notifications.domain.channels import check_config, url_hint
from services.notifications.domain.retry import RetryPolicy

T0 = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
POLICY = RetryPolicy(base_seconds=30, max_seconds=3600, give_up_seconds=86400)


def test_the_backoff_doubles_with_jitter_within_its_step_and_is_capped():
    rand = random.Random(7)
    for attempts, step in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600), (500, 3600)]:
        delays = [POLICY.delay(attempts, rand) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays), (attempts, min(delays), max(delays))
        assert max(delays) - min(delays) > step / 4  # jittered, not one value


def test_retries_go_on_for_hours_then_give_up():
    rand = random.Random(1)
    now, attempts, waits = T0, 0, []
    while True:
        attempts += 1
        when = POLICY.next_attempt(T0, now, attempts, rand)
        if when is None:
            break
        waits.append((when - now).total_seconds())
        now = when
    # Tried for most of a day, never more than an hour apart, and given up before the day is over.
    assert datetime.timedelta(hours=20) < now - T0 <= datetime.timedelta(hours=24)
    assert max(waits) <= 3600 and waits[0] <= 30
    assert 25 <= attempts <= 60


def test_the_signature_is_an_hmac_sha256_of_the_exact_body():
    payload = {"event": "deployment.succeeded", "summary": "ok"}
    request = messages.webhook_request(payload, "d-1", "s3cret-s3cret-s3cret")
    expected = "sha256=" + hmac.new(b"s3cret-s3cret-s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers[messages.SIGNATURE_HEADER] == expected
    assert messages.verify(request.body, "s3cret-s3cret-s3cret", expected)
    assert not messages.verify(request.body + b" ", "s3cret-s3cret-s3cret", expected)
    assert not messages.verify(request.body, "another-secret-value", expected)
    assert request.headers[messages.EVENT_HEADER] == "deployment.succeeded"
    assert request.headers[messages.DELIVERY_HEADER] == "d-1"
    assert json.loads(request.body) == {**payload, "delivery_id": "d-1"}


def _facts(event: str, **extra) -> messages.DeploymentFacts:
    return messages.DeploymentFacts(
        event_id="e-1",
        event=event,
        occurred_at=T0,
        project_id="p-1",
        project_name="shop",
        application_id="a-1",
        application_name="web",
        deployment_id="d-1",
        status={"deployment_failed": "failed"}.get(event, "success"),
        **extra,
    )


def test_a_deployment_notification_says_what_happened():
    ok = messages.deployment_notification(_facts("deployment_succeeded", image="busybox:1"))
    assert ok.summary == "Deployment of web in shop succeeded"
    assert (
        ok.payload["event"] == "deployment.succeeded" and ok.payload["occurred_at"] == "2026-12-01T12:00:00Z"
    )
    assert ok.payload["project"] == {"id": "p-1", "name": "shop"}
    assert ok.payload["application"] == {"id": "a-1", "name": "web"}
    assert ok.payload["deployment"] == {"id": "d-1", "status": "success", "image": "busybox:1"}
    failed = messages.deployment_notification(_facts("deployment_failed", reason="build timed out"))
    assert failed.summary == "Deployment of web in shop failed: build timed out"
    back = messages.deployment_notification(_facts("deployment_rolled_back"))
    assert back.summary.endswith("was rolled back") and back.payload["event"] == "deployment.rolled_back"


def test_slack_discord_and_email_bodies():
    assert json.loads(messages.chat_request("slack", "hello").body) == {"text": "hello"}
    assert json.loads(messages.chat_request("discord", "x" * 3000).body) == {"content": "x" * 2000}
    notification = messages.deployment_notification(_facts("deployment_failed", reason="oops"))
    mail = messages.email_message(
        notification.payload,
        notification.summary,
        "d-9",
        "Dockyard <d@example.com>",
        ["a@example.com", "b@example.com"],
    )
    parsed = email.message_from_bytes(mail.as_bytes())
    assert parsed["Subject"] == "[Dockyard] Deployment of web in shop failed: oops"
    assert parsed["To"] == "a@example.com, b@example.com" and parsed[messages.DELIVERY_HEADER] == "d-9"
    body = parsed.get_payload(decode=True).decode()
    assert body.startswith("Deployment of web in shop failed: oops\n")
    assert "deployment.reason: oops" in body and "project.name: shop" in body


def test_certificate_warnings_count_days_and_key_on_the_expiry_date():
    expires = T0 + datetime.timedelta(days=5, hours=3)
    warning = messages.certificate_notification("c-1", "api.example.com", expires, "p-1", "shop", T0)
    assert (
        warning.summary
        == "The certificate of api.example.com in shop expires in 5 days (2026-12-06 15:00 UTC)"
    )
    assert warning.payload["days_left"] == 5 and warning.payload["certificate"]["domain"] == "api.example.com"
    key = messages.certificate_dedupe_key("c-1", expires)
    assert key == "certificate:c-1:2026-12-06"
    assert messages.certificate_dedupe_key("c-1", expires + datetime.timedelta(days=90)) != key


def test_a_url_shows_only_its_scheme_and_host():
    assert (
        url_hint("https://user:pw@hooks.slack.com/services/T/B/xyz?x=1") == "https://hooks.slack.com/********"
    )
    assert url_hint("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/********"


def test_email_config_defaults_the_port_by_tls_mode_and_seals_only_the_password():
    fields = {"smtp_host": "mx.example.com", "tls": "implicit", "from_address": "a@example.com",
              "to_addresses": ["b@example.com"], "username": "u", "password": "p"}  # fmt: skip
    config, secrets = check_config("email", fields)
    assert config["smtp_port"] == 465 and config["has_password"] and "password" not in config
    assert secrets == {"password": "p"}
    config, _ = check_config("email", {**fields, "tls": "starttls", "smtp_port": 0})
    assert config["smtp_port"] == 587


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://", "https://host:port/x", "x" * 10])
def test_bad_urls_are_refused(url):
    with pytest.raises(InvalidArgument):
        check_config("slack", {"webhook_url": url})
