"""Field-mask changes and ids from requests (dockyard_kit.protoconv): Struct fields arrive as dicts,
fields with a parser through it, and a malformed value names its field."""

import datetime
import uuid

import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2

from dockyard.identity.v1 import identity_pb2
from dockyard.projects.v1 import projects_pb2
from dockyard_kit import protoconv
from dockyard_kit.errors import InvalidArgument

TEAM_ID = "5b0b3a52-6d1c-4b8e-9a51-1f3e8f2b7c10"
UPDATABLE = ("name", "description", "team_id", "metadata")


def project(**fields) -> projects_pb2.Project:
    message = projects_pb2.Project(**{k: v for k, v in fields.items() if k != "metadata"})
    if "metadata" in fields:
        message.metadata.update(fields["metadata"])
    return message


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def test_a_struct_field_arrives_as_a_dict_and_others_as_they_are():
    message = project(name="web", metadata={"tier": "gold", "replicas": 2})
    assert protoconv.mask_changes(mask("name", "metadata"), message, UPDATABLE) == {
        "name": "web",
        "metadata": {"tier": "gold", "replicas": 2},
    }


def test_a_field_with_a_parser_goes_through_it_with_its_name():
    parsers = {"team_id": protoconv.optional_id}
    assert protoconv.mask_changes(mask("team_id"), project(team_id=TEAM_ID), UPDATABLE, parsers) == {
        "team_id": uuid.UUID(TEAM_ID)
    }
    # An empty optional id is "unset".
    assert protoconv.mask_changes(mask("team_id"), project(), UPDATABLE, parsers) == {"team_id": None}
    with pytest.raises(InvalidArgument) as refused:
        protoconv.mask_changes(mask("team_id"), project(team_id="nope"), UPDATABLE, parsers)
    assert refused.value.field == "team_id"


def test_without_a_mask_the_set_fields_are_the_changes():
    team = identity_pb2.Team(description="the crew")
    team.settings.update({"notify": True})
    assert protoconv.mask_changes(mask(), team, ("name", "description", "settings")) == {
        "description": "the crew",
        "settings": {"notify": True},
    }


def test_a_path_outside_the_updatable_fields_is_refused():
    with pytest.raises(InvalidArgument) as refused:
        protoconv.mask_changes(mask("owner_id"), project(), UPDATABLE)
    assert refused.value.field == "update_mask"


def test_field_values_reads_the_named_fields_of_a_create_request():
    message = project(name="api", description="", metadata={})
    assert protoconv.field_values(message, ("name", "description", "metadata")) == {
        "name": "api",
        "description": "",
        "metadata": {},
    }


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 12, 2, 4, 5, 6, 789012, tzinfo=datetime.UTC),
        datetime.datetime(
            2026, 12, 2, 4, 5, 6, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))
        ),
        datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 2, 4, 5, 6, 1),  # naive: UTC, as FromDatetime takes it
    ],
)
def test_set_timestamp_is_from_datetime(value):
    expected, fast = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    expected.FromDatetime(value)
    protoconv.set_timestamp(fast, value)
    assert (fast.seconds, fast.nanos) == (expected.seconds, expected.nanos)
