"""Pure logic of the backbone: event types and subjects, the envelope, consumer names, back-off."""

import datetime
import uuid

import pytest
from google.protobuf import wrappers_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.events import event_type, new_event, subject_for
from dockyard_kit.events.consumer import durable_name
from dockyard_kit.events.outbox import MAX_ENVELOPE_BYTES, serialize_for_outbox
from dockyard_kit.events.relay import next_backoff
from dockyard_kit.interceptors import RequestInfo, current_request


def test_types_and_subjects_read_service_resource_verb():
    assert event_type("identity", "user", "created") == "identity.user.created"
    assert subject_for("identity.user.created") == "dockyard.identity.user.created"


@pytest.mark.parametrize(
    ("service", "resource", "verb"),
    [("identity", "user.admin", "created"), ("Identity", "user", "created"), ("projects", "*", "x"),
     ("projects", "app", ""), ("projects", "app", "re named"), ("projects", ">", "created")],
)  # fmt: skip
def test_a_type_token_cannot_break_the_subject(service, resource, verb):
    with pytest.raises(ValueError, match="must match"):
        event_type(service, resource, verb)


def test_new_event_fills_the_envelope():
    when = datetime.datetime(2025, 5, 1, 12, 30, tzinfo=datetime.UTC)
    event = new_event(
        "projects",
        "project",
        "renamed",
        "p-42",
        wrappers_pb2.StringValue(value="new name"),
        actor_user_id="u-7",
        request=RequestInfo(request_id="req-1", method="/x", client_ip="10.0.0.9", user_agent="cli/1.0"),
        occurred_at=when,
    )
    assert uuid.UUID(event.id).version == 4
    assert (event.type, event.subject) == ("projects.project.renamed", "dockyard.projects.project.renamed")
    assert (event.resource_type, event.resource_id, event.source_service) == ("project", "p-42", "projects")
    assert event.actor_user_id == "u-7"
    assert (event.request.request_id, event.request.client_ip, event.request.user_agent) == (
        "req-1",
        "10.0.0.9",
        "cli/1.0",
    )
    assert event.occurred_at.ToDatetime(datetime.UTC) == when
    payload = wrappers_pb2.StringValue()
    assert event.payload.Unpack(payload) and payload.value == "new name"


def test_new_event_takes_request_metadata_from_the_rpc_being_served():
    token = current_request.set(RequestInfo(request_id="req-9", method="/y", client_ip="192.0.2.1"))
    try:
        event = new_event("identity", "user", "created", "u-1", wrappers_pb2.StringValue())
    finally:
        current_request.reset(token)
    assert (event.request.request_id, event.request.client_ip) == ("req-9", "192.0.2.1")
    assert new_event("identity", "user", "created", "u-1", wrappers_pb2.StringValue()).id != event.id
    assert not new_event("identity", "user", "created", "u-1", wrappers_pb2.StringValue()).HasField("request")


def test_an_event_names_its_resource():
    with pytest.raises(ValueError, match="resource"):
        new_event("identity", "user", "created", "", wrappers_pb2.StringValue())


def test_durable_names_are_per_service_and_valid_for_jetstream():
    assert durable_name("audit", "trail") == "audit-trail"
    for bad in ("trail.v2", "all>", "a b", "", "Trail"):
        with pytest.raises(ValueError):
            durable_name("audit", bad)


def test_backoff_doubles_up_to_the_cap():
    delays, delay = [], 0.0
    for _ in range(7):
        delay = next_backoff(delay, initial=0.1, cap=2.0)
        delays.append(delay)
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_the_outbox_takes_a_well_formed_envelope():
    event = new_event("identity", "user", "created", "u-1", wrappers_pb2.StringValue(value="x"))
    assert Event.FromString(serialize_for_outbox(event)) == event


@pytest.mark.parametrize(
    "breaks",
    [
        lambda e: setattr(e, "type", "identity.user"),
        lambda e: setattr(e, "type", "identity.user.Created"),
        lambda e: setattr(e, "subject", "elsewhere.identity.user.created"),
        lambda e: setattr(e, "id", "not-a-uuid"),
        lambda e: setattr(e, "resource_id", ""),
        lambda e: e.payload.Pack(wrappers_pb2.BytesValue(value=b"x" * (MAX_ENVELOPE_BYTES + 1))),
    ],
    ids=["type", "type-token", "subject", "id", "resource", "size"],
)
def test_the_outbox_refuses_an_envelope_the_stream_would_not_take(breaks):
    """A row the relay cannot publish would hold up every row behind it."""
    event = new_event("identity", "user", "created", "u-1", wrappers_pb2.StringValue(value="x"))
    breaks(event)
    with pytest.raises(ValueError):
        serialize_for_outbox(event)
