"""Between protobuf and identity's rows and values: resources for responses and event payloads,
ids and field masks from requests. A user's password and hash are never copied into a message."""

import json
import uuid

from google.protobuf import field_mask_pb2, json_format, struct_pb2

from dockyard.identity.v1 import events_pb2, identity_pb2
from dockyard_kit.errors import InvalidArgument


def struct_from_json(value: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(value))
    return struct


def dict_from_struct(struct: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(struct)


def user(row) -> identity_pb2.User:
    message = identity_pb2.User(
        id=str(row["id"]),
        username=row["username"],
        email=row["email"],
        role=row["role"],
        preferences=struct_from_json(row["preferences"]),
        disabled=row["disabled_at"] is not None,
    )
    message.created_at.FromDatetime(row["created_at"])
    message.updated_at.FromDatetime(row["updated_at"])
    return message


def team(row) -> identity_pb2.Team:
    message = identity_pb2.Team(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        settings=struct_from_json(row["settings"]),
    )
    message.created_at.FromDatetime(row["created_at"])
    message.updated_at.FromDatetime(row["updated_at"])
    return message


def team_member(row) -> identity_pb2.TeamMember:
    message = identity_pb2.TeamMember(
        id=str(row["id"]),
        team_id=str(row["team_id"]),
        user_id=str(row["user_id"]),
        role=row["role"],
        username=row["username"],
    )
    message.joined_at.FromDatetime(row["joined_at"])
    return message


def user_changed(row, previous_role: str = "") -> events_pb2.UserChanged:
    return events_pb2.UserChanged(user=user(row), previous_role=previous_role)


def team_changed(row) -> events_pb2.TeamChanged:
    return events_pb2.TeamChanged(team=team(row))


def team_member_changed(row, previous_role: str = "") -> events_pb2.TeamMemberChanged:
    return events_pb2.TeamMemberChanged(member=team_member(row), previous_role=previous_role)


def parse_id(value: str, field: str) -> uuid.UUID:
    """A resource id from a request: malformed ids are the client's mistake, named by field."""
    if not value:
        raise InvalidArgument(field, "is required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(field, "must be a UUID") from None


def mask_paths(mask: field_mask_pb2.FieldMask, message, allowed: tuple[str, ...]) -> set[str]:
    """The fields an update changes: the mask's paths, each one of `allowed`; without a mask, the
    allowed fields the message sets (AIP-134)."""
    if not mask.paths:
        present = {field.name for field, _ in message.ListFields()}
        paths = present & set(allowed)
        if not paths:
            raise InvalidArgument("update_mask", f"name at least one of {', '.join(allowed)}")
        return paths
    unknown = sorted(set(mask.paths) - set(allowed))
    if unknown:
        raise InvalidArgument(
            "update_mask", f"cannot update {', '.join(unknown)}; updatable: {', '.join(allowed)}"
        )
    return set(mask.paths)
