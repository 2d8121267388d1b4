"""NotificationChannelService on the running platform: channels of a project and of a team
created, read, listed in pages, changed by field mask and deleted over REST; secrets (URLs, the
signing secret, the SMTP password) masked in every response and sealed in the database; bad input
refused naming its field; who may do what (managers manage, members list, others see nothing)."""

import base64
import uuid

import grpc
import pytest

from dockyard.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from tests.notifications.support import CHANNELS, SIGNING_SECRET, create_channel, webhook_channel
from tests.support.calls import DENIED, INVALID, NOT_FOUND, TIMEOUT, field_of, rpc_error
from tests.support.resources import call, create, sql, violated_field
from tests.support.waiting import eventually

MASK = "********"
SLACK_URL = "https://hooks.slack.example/services/T000/B000/secret-token-123"
WEBHOOK_URL = "https://receiver.example:8443/hooks/dockyard?token=query-secret"
SUCCEEDED = "NOTIFICATION_EVENT_DEPLOYMENT_SUCCEEDED"
FAILED = "NOTIFICATION_EVENT_DEPLOYMENT_FAILED"


@pytest.fixture(scope="module")
def project(stack, people):
    """owner's project, worked on by the crew team (owner its owner, member a member)."""
    return create(stack, people.owner, team_id=people.crew.id)


@pytest.fixture(scope="module")
def channels_direct(stack):
    with grpc.insecure_channel(stack.addresses["notifications"]) as channel:
        yield notifications_pb2_grpc.NotificationChannelServiceStub(channel)


def email_channel(project_id: str, **email) -> dict:
    return {
        "project_id": project_id,
        "name": "ops mail",
        "kind": "CHANNEL_KIND_EMAIL",
        "email": {
            "smtp_host": "smtp.example.com",
            "tls": "SMTP_TLS_STARTTLS",
            "username": "dockyard",
            "password": "smtp-password-xyz",
            "from_address": "Dockyard <dockyard@example.com>",
            "to_addresses": ["ops@example.com", "oncall@example.com"],
            **email,
        },
        "events": [FAILED],
    }


def stored_secrets(stack, channel_id: str) -> str:
    return sql(stack, "notifications", "SELECT secrets FROM channels WHERE id = $1", uuid.UUID(channel_id))[
        0
    ][0]


def test_a_webhook_channel_is_created_masked_and_sealed(stack, people, project):
    created = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [SUCCEEDED, FAILED])
    )
    assert created["kind"] == "CHANNEL_KIND_WEBHOOK" and created["enabled"] is True
    assert created["events"] == [SUCCEEDED, FAILED] and created["certificate_expiring_within_days"] == 14
    assert created["webhook"] == {"url": f"https://receiver.example:8443/{MASK}", "signing_secret": MASK}
    status, read = call(stack, people.owner, "GET", f"{CHANNELS}/{created['id']}")
    assert status == 200 and read == created
    # At rest: sealed (base64 of a ciphertext), with neither secret in it.
    sealed = stored_secrets(stack, created["id"])
    assert "token" not in sealed and SIGNING_SECRET not in sealed and "receiver.example" not in sealed
    assert len(base64.b64decode(sealed)) > len(WEBHOOK_URL) + len(SIGNING_SECRET)


def test_slack_and_email_channels_mask_their_secrets_everywhere(stack, people, project):
    slack = create_channel(
        stack,
        people.owner,
        {"project_id": project["id"], "name": "alerts", "kind": "CHANNEL_KIND_SLACK",
         "slack": {"webhook_url": SLACK_URL}, "events": [FAILED]},
    )  # fmt: skip
    assert slack["slack"] == {"webhook_url": f"https://hooks.slack.example/{MASK}"}
    mail = create_channel(stack, people.owner, email_channel(project["id"]))
    assert mail["email"]["password"] == MASK and mail["email"]["smtp_port"] == 587
    assert mail["email"]["to_addresses"] == ["ops@example.com", "oncall@example.com"]
    assert "smtp-password-xyz" not in stored_secrets(stack, mail["id"])
    # The list, a member's view and an update's answer are masked alike.
    status, listed = call(stack, people.member, "GET", f"{CHANNELS}?project_id={project['id']}")
    assert status == 200
    text = str(listed)
    assert "secret-token-123" not in text and "smtp-password-xyz" not in text and "query-secret" not in text
    status, updated = call(
        stack,
        people.owner,
        "PATCH",
        f"{CHANNELS}/{mail['id']}?update_mask=email.password,name",
        {"name": "ops mail 2", "email": {"password": "a-new-password"}},
    )
    assert status == 200 and updated["name"] == "ops mail 2" and updated["email"]["password"] == MASK
    # The rest of the config stayed as it was.
    assert updated["email"]["smtp_host"] == "smtp.example.com" and updated["email"]["username"] == "dockyard"
    assert "a-new-password" not in stored_secrets(stack, mail["id"])


def test_updates_by_field_mask_and_delete(stack, people, project):
    created = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [SUCCEEDED])
    )
    path = f"{CHANNELS}/{created['id']}"
    status, updated = call(
        stack,
        people.owner,
        "PATCH",
        f"{path}?update_mask=enabled,events",
        {"enabled": False, "events": [FAILED]},
    )
    assert status == 200 and updated["enabled"] is False and updated["events"] == [FAILED]
    sealed_before = stored_secrets(stack, created["id"])
    status, moved = call(
        stack,
        people.owner,
        "PATCH",
        f"{path}?update_mask=webhook.url",
        {"webhook": {"url": "http://other.example/x"}},
    )
    assert status == 200 and moved["webhook"] == {
        "url": f"http://other.example/{MASK}",
        "signing_secret": MASK,
    }
    assert stored_secrets(stack, created["id"]) != sealed_before
    # A field of another kind's config, or the kind itself, cannot be changed.
    status, body = call(
        stack,
        people.owner,
        "PATCH",
        f"{path}?update_mask=slack.webhook_url",
        {"slack": {"webhook_url": SLACK_URL}},
    )
    assert status == 400 and violated_field(body) == "update_mask"
    status, body = call(
        stack, people.owner, "PATCH", f"{path}?update_mask=kind", {"kind": "CHANNEL_KIND_SLACK"}
    )
    assert status == 400 and violated_field(body) == "update_mask"
    status, _ = call(stack, people.owner, "DELETE", path)
    assert status == 200
    assert call(stack, people.owner, "GET", path)[0] == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"kind": "CHANNEL_KIND_UNSPECIFIED"}, "kind"),
        ({"events": []}, "events"),
        ({"events": ["NOTIFICATION_EVENT_TEST"]}, "events"),
        ({"events": [SUCCEEDED, SUCCEEDED]}, "events"),
        ({"certificate_expiring_within_days": 400}, "certificate_expiring_within_days"),
        ({"webhook": {"url": "ftp://example.com/x", "signing_secret": SIGNING_SECRET}}, "webhook.url"),
        ({"webhook": {"url": "https://example.com/x", "signing_secret": "short"}}, "webhook.signing_secret"),
        (
            {"webhook": {"url": f"https://example.com/{MASK}", "signing_secret": SIGNING_SECRET}},
            "webhook.url",
        ),
        ({"project_id": "not-a-uuid"}, "project_id"),
        ({"team_id": str(uuid.uuid4())}, "project_id"),  # both owners
    ],
)
def test_bad_input_is_refused_naming_the_field(stack, people, project, change, field):
    body = {**webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [SUCCEEDED]), **change}
    status, answer = call(stack, people.owner, "POST", CHANNELS, body)
    assert status == 400 and violated_field(answer) == field, answer


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"smtp_host": ""}, "email.smtp_host"),
        ({"tls": "SMTP_TLS_UNSPECIFIED"}, "email.tls"),
        ({"smtp_port": 70000}, "email.smtp_port"),
        ({"from_address": "nobody"}, "email.from_address"),
        ({"to_addresses": []}, "email.to_addresses"),
        ({"to_addresses": ["ok@example.com", "not an address"]}, "email.to_addresses"),
    ],
)
def test_bad_email_config_is_refused_naming_the_field(stack, people, project, change, field):
    status, answer = call(stack, people.owner, "POST", CHANNELS, email_channel(project["id"], **change))
    assert status == 400 and violated_field(answer) == field, answer
    # Nothing half-written.
    assert not sql(stack, "notifications", "SELECT 1 FROM channels WHERE config->>'smtp_host' = ''")


def test_who_may_do_what_on_a_project_channel(stack, people, project, channels_direct):
    created = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [SUCCEEDED])
    )
    path = f"{CHANNELS}/{created['id']}"
    body = webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [SUCCEEDED])
    # A team member writes the project's applications but does not manage it: reads channels only.
    assert call(stack, people.member, "GET", path)[0] == 200
    status, answer = call(stack, people.member, "POST", CHANNELS, body)
    assert status == 403 and "manager rights" in answer["message"]
    assert call(stack, people.member, "PATCH", f"{path}?update_mask=enabled", {"enabled": False})[0] == 403
    assert call(stack, people.member, "DELETE", path)[0] == 403
    assert call(stack, people.member, "POST", f"{path}:test", {})[0] == 403
    assert call(stack, people.member, "GET", f"{path}/deliveries")[0] == 403
    # Someone outside the project sees nothing: the same answer as for an id nobody has.
    for attempt in (
        ("GET", path, None),
        ("DELETE", path, None),
        ("GET", f"{CHANNELS}?project_id={project['id']}", None),
        ("POST", CHANNELS, body),
    ):
        assert call(stack, people.unrelated, *attempt)[0] == 404, attempt
    assert call(stack, people.unrelated, "GET", f"{CHANNELS}/{uuid.uuid4()}")[0] == 404
    # A platform admin manages every channel; a read-only token of one never writes.
    assert call(stack, people.admin, "PATCH", f"{path}?update_mask=name", {"name": "renamed"})[0] == 200
    status, answer = call(stack, people.read_only_admin, "DELETE", path)
    assert status == 403 and "read-only" in answer["message"]
    # The same over gRPC, straight to the service: every RPC checks its caller.
    error = rpc_error(
        channels_direct.DeleteNotificationChannel,
        notifications_pb2.DeleteNotificationChannelRequest(channel_id=created["id"]),
        people.member.metadata,
    )
    assert error.code() == DENIED
    error = rpc_error(
        channels_direct.GetNotificationChannel,
        notifications_pb2.GetNotificationChannelRequest(channel_id=created["id"]),
        people.unrelated.metadata,
    )
    assert error.code() == NOT_FOUND
    with pytest.raises(grpc.RpcError) as anonymous:
        channels_direct.GetNotificationChannel(
            notifications_pb2.GetNotificationChannelRequest(channel_id=created["id"]), timeout=TIMEOUT
        )
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    error = rpc_error(
        channels_direct.GetNotificationChannel,
        notifications_pb2.GetNotificationChannelRequest(channel_id="nope"),
        people.owner.metadata,
    )
    assert error.code() == INVALID and field_of(error) == "channel_id"


def test_team_channels_are_managed_by_team_owners_and_listed_by_members(stack, people):
    team = {"team_id": people.crew.id}
    created = create_channel(stack, people.owner, webhook_channel(team, WEBHOOK_URL, [FAILED]))
    assert created["team_id"] == people.crew.id and created["project_id"] == ""
    status, listed = call(stack, people.member, "GET", f"{CHANNELS}?team_id={people.crew.id}")
    assert status == 200 and [c["id"] for c in listed["channels"]] == [created["id"]]
    assert (
        call(stack, people.member, "POST", CHANNELS, webhook_channel(team, WEBHOOK_URL, [FAILED]))[0] == 403
    )
    assert call(stack, people.unrelated, "GET", f"{CHANNELS}?team_id={people.crew.id}")[0] == 404
    assert call(stack, people.project_limited_admin, "GET", f"{CHANNELS}/{created['id']}")[0] == 404
    # Exactly one owner to list.
    status, body = call(stack, people.member, "GET", CHANNELS)
    assert status == 400 and violated_field(body) == "project_id"


def test_lists_are_pages_oldest_first(stack, people):
    project = create(stack, people.owner)
    made = [
        create_channel(
            stack, people.owner, webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [FAILED])
        )
        for _ in range(3)
    ]
    listing = f"{CHANNELS}?project_id={project['id']}&page_size=2"
    status, first = call(stack, people.owner, "GET", listing)
    assert status == 200 and [c["id"] for c in first["channels"]] == [c["id"] for c in made[:2]]
    status, second = call(stack, people.owner, "GET", f"{listing}&page_token={first['next_page_token']}")
    assert status == 200 and [c["id"] for c in second["channels"]] == [made[2]["id"]]
    assert not second.get("next_page_token")


def test_a_deleted_project_takes_its_channels(stack, people):
    project = create(stack, people.owner)
    created = create_channel(
        stack, people.owner, webhook_channel({"project_id": project["id"]}, WEBHOOK_URL, [FAILED])
    )
    assert call(stack, people.owner, "DELETE", f"/v1/projects/{project['id']}")[0] == 200

    def gone():
        return not sql(
            stack, "notifications", "SELECT 1 FROM channels WHERE id = $1", uuid.UUID(created["id"])
        )

    eventually(gone, timeout=10)
