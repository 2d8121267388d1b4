"""Notifications delivered on the running platform, to a local HTTP receiver and a local SMTP
server (aiosmtpd, STARTTLS and a login): a real deployment that succeeds sends one signed webhook
to the project's channel and to its team's, a failing one one Slack message; a test notification
arrives by email; a receiver that is down, then answers 503, then is back gets every notification
exactly once, with every failed attempt in the delivery log; a replica killed mid-send leaves its
deliveries to another, which sends each once; a receiver that never accepts is given up; a
certificate about to expire is announced once."""

import datetime
import email
import json
import os
import signal
import time

import grpc
import pytest

from dockyard.notifications.v1 import notifications_pb2 as pb
from services.notifications.domain.messages import verify
from tests.notifications.support import (
    CHANNELS,
    SIGNING_SECRET,
    Receiver,
    SmtpInbox,
    create_channel,
    direct,
    webhook_channel,
)
from tests.support.calls import TIMEOUT
from tests.support.certs import issued_by_ca, self_signed
from tests.support.deployments import deploy, remove_project_services, wait_final, web_app
from tests.support.replicas import service_replica, stack_service_pid
from tests.support.resources import call, create, create_domain, insert_application, new_app
from tests.support.waiting import eventually

SUCCEEDED = "NOTIFICATION_EVENT_DEPLOYMENT_SUCCEEDED"
FAILED = "NOTIFICATION_EVENT_DEPLOYMENT_FAILED"
EXPIRING = "NOTIFICATION_EVENT_CERTIFICATE_EXPIRING"
SMTP_USER, SMTP_PASSWORD = "dockyard", "smtp-login-password"
GIVE_UP_SECONDS = 12


@pytest.fixture(scope="module")
def smtp_certificate(tmp_path_factory):
    """A certificate for localhost issued by a throw-away CA, which the service is told to trust
    (DOCKYARD_NOTIFICATIONS_SMTP_CA_FILE): (certificate file, key file, CA file)."""
    directory = tmp_path_factory.mktemp("smtp-tls")
    leaf, ca = issued_by_ca("localhost")
    files = [directory / "smtp.pem", directory / "smtp.key", directory / "ca.pem"]
    for path, text in zip(files, (leaf.certificate, leaf.private_key, ca), strict=True):
        path.write_text(text)
    return tuple(str(path) for path in files)


@pytest.fixture(scope="module")
def stack_env(smtp_certificate):
    """Retries in a fraction of a second and given up after GIVE_UP_SECONDS, expiry checked every
    second, the test CA trusted for SMTP; the deployer's quick rollouts (tests/deployer/conftest.py)."""
    return {
        "DOCKYARD_NOTIFICATIONS_RETRY_BASE_SECONDS": "0.3",
        "DOCKYARD_NOTIFICATIONS_RETRY_MAX_SECONDS": "1",
        "DOCKYARD_NOTIFICATIONS_GIVE_UP_SECONDS": str(GIVE_UP_SECONDS),
        "DOCKYARD_NOTIFICATIONS_POLL_SECONDS": "0.2",
        "DOCKYARD_NOTIFICATIONS_SEND_TIMEOUT_SECONDS": "3",
        "DOCKYARD_NOTIFICATIONS_EXPIRY_CHECK_SECONDS": "1",
        "DOCKYARD_NOTIFICATIONS_SMTP_CA_FILE": smtp_certificate[2],
        "DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1",
        "DOCKYARD_DEPLOY_LEASE_SECONDS": "3",
    }


@pytest.fixture(scope="module")
def notifications(stack):
    return direct(stack)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.release()
    receiver.stop()


@pytest.fixture
def smtp_inbox(smtp_certificate):
    inbox = SmtpInbox(smtp_certificate[0], smtp_certificate[1], SMTP_USER, SMTP_PASSWORD)
    yield inbox
    inbox.stop()


@pytest.fixture(scope="module")
def project(stack, people, docker_client):
    project = create(stack, people.owner, team_id=people.crew.id)
    yield project
    remove_project_services(docker_client, project["id"])


def test_a_real_deployment_sends_one_signed_webhook_per_channel(
    stack, people, project, busybox_image, receiver, notifications
):
    project_hook = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, receiver.url, [SUCCEEDED])
    )
    team_hook = create_channel(
        stack, people.owner, webhook_channel({"team_id": people.crew.id}, f"{receiver.url}/team", [SUCCEEDED])
    )
    slack = create_channel(
        stack,
        people.owner,
        {"project_id": project["id"], "name": "alerts", "kind": "CHANNEL_KIND_SLACK",
         "slack": {"webhook_url": f"{receiver.url}/slack"}, "events": [FAILED]},
    )  # fmt: skip
    app, _ = web_app(stack, people.owner, project["id"], busybox_image)
    deployment = deploy(stack, people.member, app["id"])
    assert wait_final(stack, people.member, deployment["id"])["status"] == "success"

    both = eventually(lambda: len(receiver.accepted()) >= 2 and receiver.accepted(), timeout=30)
    assert sorted(r.path for r in both) == ["/hook", "/hook/team"]
    for received in both:
        # Signed with the channel's secret, over the exact bytes sent.
        signature = received.headers["X-Dockyard-Signature-256"]
        assert signature.startswith("sha256=") and verify(received.body, SIGNING_SECRET, signature)
        assert received.headers["X-Dockyard-Event"] == "deployment.succeeded"
        body = received.json()
        assert body["delivery_id"] == received.headers["X-Dockyard-Delivery"]
        assert body["event"] == "deployment.succeeded" and body["status"] == "success"
        assert body["project"] == {"id": project["id"], "name": project["name"]}
        assert body["application"] == {"id": app["id"], "name": app["name"]}
        assert body["deployment"]["id"] == deployment["id"]
        assert body["deployment"]["triggered_by"] == people.member.id
        assert datetime.datetime.fromisoformat(body["occurred_at"]).tzinfo is not None
    # A failing deployment: the Slack channel (failures only) hears of it, the others do not.
    broken = new_app(stack, people.owner, project["id"], docker_config={"image": "dockyard-test/absent:1"})
    failed = deploy(stack, people.owner, broken["id"])
    assert wait_final(stack, people.owner, failed["id"])["status"] == "failed"
    slack_messages = eventually(
        lambda: [r for r in receiver.accepted() if r.path == "/hook/slack"], timeout=30
    )
    time.sleep(1)  # anything sent twice, or to the wrong channel, would arrive meanwhile
    assert len(receiver.accepted()) == 3
    [text] = [r.json() for r in slack_messages]
    assert list(text) == ["text"]
    assert text["text"].startswith(f"Deployment of {broken['name']} in {project['name']} failed")
    # The delivery log: one delivery each, delivered on its first attempt with the receiver's 200.
    for channel in (project_hook, team_hook, slack):
        [delivery] = notifications.wait_settled(people.owner, channel["id"], 1)
        assert delivery.status == pb.DELIVERY_STATUS_DELIVERED and delivery.attempts == 1
        assert delivery.last_http_status == 200 and [a.http_status for a in delivery.history] == [200]
    [success] = notifications.deliveries(people.owner, project_hook["id"])
    assert success.event == pb.NOTIFICATION_EVENT_DEPLOYMENT_SUCCEEDED
    assert success.summary == f"Deployment of {app['name']} in {project['name']} succeeded"


def test_a_test_notification_arrives_by_email_over_starttls(
    stack, people, project, smtp_inbox, notifications
):
    mail = {
        "smtp_host": "localhost",
        "smtp_port": smtp_inbox.port,
        "tls": "SMTP_TLS_STARTTLS",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "from_address": "Dockyard <dockyard@example.com>",
        "to_addresses": ["ops@example.com"],
    }
    body = {"project_id": project["id"], "name": "ops mail", "kind": "CHANNEL_KIND_EMAIL", "email": mail,
            "events": [FAILED]}  # fmt: skip
    channel = create_channel(stack, people.owner, body)
    status, queued = call(stack, people.owner, "POST", f"{CHANNELS}/{channel['id']}:test", {})
    assert status == 200 and queued["event"] == "NOTIFICATION_EVENT_TEST"
    assert queued["status"] == "DELIVERY_STATUS_PENDING"
    [delivered] = notifications.wait_settled(people.owner, channel["id"], 1, timeout=30)
    assert delivered.status == pb.DELIVERY_STATUS_DELIVERED, delivered
    [(sender, recipients, raw)] = smtp_inbox.messages
    assert smtp_inbox.logins == [SMTP_USER]
    assert sender == "dockyard@example.com" and recipients == ["ops@example.com"]
    message = email.message_from_bytes(raw)
    assert message["Subject"] == "[Dockyard] Test notification from Dockyard for the channel ops mail"
    assert message["X-Dockyard-Delivery"] == delivered.id
    # A recipient the server refuses: its refusal is in the delivery log, and it is tried again.
    status, _ = call(
        stack, people.owner, "PATCH", f"{CHANNELS}/{channel['id']}?update_mask=email.to_addresses",
        {"email": {"to_addresses": ["nobody@example.com"]}},
    )  # fmt: skip
    assert status == 200
    call(stack, people.owner, "POST", f"{CHANNELS}/{channel['id']}:test", {})

    def refused_twice():
        latest = notifications.deliveries(people.owner, channel["id"])[0]
        return latest if len(latest.history) >= 2 else None

    refused = eventually(refused_twice, timeout=30)
    assert refused.status == pb.DELIVERY_STATUS_PENDING and refused.last_http_status == 0
    assert "SMTPRecipientsRefused" in refused.last_error and "no such mailbox" in refused.last_error
    assert len(smtp_inbox.messages) == 1


def test_a_receiver_down_then_up_gets_every_notification_once(
    stack, people, project, receiver, notifications
):
    receiver.stop()  # nothing listens: connection refused
    channel = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, receiver.url, [SUCCEEDED])
    )
    for _ in range(3):
        status, _ = call(stack, people.owner, "POST", f"{CHANNELS}/{channel['id']}:test", {})
        assert status == 200

    def every_one_tried(at_least: int, status: int):
        found = notifications.deliveries(people.owner, channel["id"])
        tried = all(sum(a.http_status == status for a in d.history) >= at_least for d in found)
        return found if len(found) == 3 and tried else None

    eventually(lambda: every_one_tried(2, 0), timeout=20)
    receiver.status = 503
    receiver.start()
    eventually(lambda: every_one_tried(1, 503), timeout=20)
    receiver.status = 200
    settled = notifications.wait_settled(people.owner, channel["id"], 3, timeout=30)
    time.sleep(1.5)  # a second copy of anything would arrive meanwhile
    accepted = receiver.accepted()
    assert len(accepted) == 3
    assert sorted(r.headers["X-Dockyard-Delivery"] for r in accepted) == sorted(d.id for d in settled)
    for delivery in settled:
        assert delivery.status == pb.DELIVERY_STATUS_DELIVERED and delivery.last_error == ""
        statuses = [a.http_status for a in delivery.history]
        # Refused connections first, then 503s, then the 200 that delivered it, each attempt logged.
        assert statuses[-1] == 200 and 503 in statuses and statuses[0] == 0, statuses
        assert statuses == sorted(statuses, key=[0, 503, 200].index)
        assert [a.attempt for a in delivery.history] == list(range(1, delivery.attempts + 1))
        assert "HTTP 503" in next(a.error for a in delivery.history if a.http_status == 503)
        assert "Connect" in delivery.history[0].error
        waits = [
            (b.attempted_at.ToDatetime() - a.attempted_at.ToDatetime()).total_seconds()
            for a, b in zip(delivery.history, delivery.history[1:], strict=False)
        ]
        assert all(w >= 0.1 for w in waits), waits  # backed off, never straight away


def answers(notifications, account, channel_id: str) -> bool:
    try:
        notifications.deliveries(account, channel_id)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return False
    return True


def test_a_replica_killed_mid_send_leaves_its_deliveries_to_another_which_sends_each_once(
    stack, people, project, receiver, notifications
):
    channel = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, receiver.url, [SUCCEEDED])
    )
    receiver.hold()
    own = stack_service_pid(stack, "notifications")
    # A replica with a short lease takes the sends while the stack's own process is paused.
    with service_replica(stack, "notifications", DOCKYARD_NOTIFICATIONS_LEASE_SECONDS="3") as replica:
        os.kill(own, signal.SIGSTOP)
        try:
            request = pb.SendTestNotificationRequest(channel_id=channel["id"])
            for _ in range(3):
                direct(stack, replica.address).stub.SendTestNotification(
                    request, metadata=people.owner.metadata, timeout=TIMEOUT
                )
            # All three in flight at once, well within the 10 s send timeout: a receiver that hangs
            # holds one of the dispatcher's slots per send, not the dispatcher.
            eventually(lambda: len(receiver.held) == 3 or None, timeout=5)
            replica.kill()  # its three sends in flight, unanswered
        finally:
            os.kill(own, signal.SIGCONT)
    receiver.release()
    # Resumed, the stack's process refuses callers (UNAVAILABLE) until it has reloaded its deny-list.
    eventually(lambda: answers(notifications, people.owner, channel["id"]), timeout=10)
    settled = notifications.wait_settled(people.owner, channel["id"], 3, timeout=40)
    time.sleep(1.5)  # a second copy of anything would arrive meanwhile
    accepted = receiver.accepted()
    assert sorted(r.headers["X-Dockyard-Delivery"] for r in accepted) == sorted(d.id for d in settled)
    assert sorted(r.headers["X-Dockyard-Delivery"] for r in receiver.held) == sorted(d.id for d in settled)
    for delivery in settled:
        assert delivery.status == pb.DELIVERY_STATUS_DELIVERED
        # The dead replica's attempt was counted when it claimed the delivery, but never logged.
        assert delivery.attempts == 2 and [a.attempt for a in delivery.history] == [2]


def test_a_receiver_that_never_accepts_is_given_up(stack, people, project, receiver, notifications):
    receiver.status = 500
    channel = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, receiver.url, [SUCCEEDED])
    )
    call(stack, people.owner, "POST", f"{CHANNELS}/{channel['id']}:test", {})
    [given_up] = notifications.wait_settled(people.owner, channel["id"], 1, timeout=GIVE_UP_SECONDS + 20)
    assert given_up.status == pb.DELIVERY_STATUS_FAILED and given_up.last_http_status == 500
    assert given_up.attempts >= 5 and all(a.http_status == 500 for a in given_up.history)
    status, failed_only = call(
        stack, people.owner, "GET", f"{CHANNELS}/{channel['id']}/deliveries?status=DELIVERY_STATUS_FAILED"
    )
    assert status == 200 and [d["id"] for d in failed_only["deliveries"]] == [given_up.id]


def test_a_certificate_about_to_expire_is_announced_once(stack, people, receiver, notifications):
    project = create(stack, people.owner)
    domain = create_domain(stack, people.owner, project["id"], insert_application(stack, project["id"]))
    warned = create_channel(
        stack,
        people.owner,
        webhook_channel(
            {"project_id": project["id"]}, receiver.url, [EXPIRING], certificate_expiring_within_days=10
        ),
    )
    too_early = create_channel(
        stack,
        people.owner,
        webhook_channel(
            {"project_id": project["id"]},
            f"{receiver.url}/early",
            [EXPIRING],
            certificate_expiring_within_days=2,
        ),
    )
    issued = self_signed(domain["domain"], expires_in=datetime.timedelta(days=5))
    body = {"certificate": issued.certificate, "private_key": issued.private_key}
    status, certificate = call(stack, people.owner, "POST", f"/v1/domains/{domain['id']}/certificates", body)
    assert status == 200, certificate
    [warning] = eventually(receiver.accepted, timeout=20)
    time.sleep(3)  # three more checks: none warns again
    assert len(receiver.accepted()) == 1
    payload = json.loads(warning.body)
    assert payload["event"] == "certificate.expiring" and payload["days_left"] in (4, 5)
    assert payload["certificate"]["id"] == certificate["id"]
    assert payload["certificate"]["domain"] == domain["domain"]
    [delivery] = notifications.deliveries(people.owner, warned["id"])
    assert delivery.dedupe_key.startswith(f"certificate:{certificate['id']}:")
    assert notifications.deliveries(people.owner, too_early["id"]) == []
