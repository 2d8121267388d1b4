"""Between protobuf requests and Python values, for every service's RPC layer: ids and field masks
from requests (malformed ones are the client's mistake, named by field), JSON columns to and from
google.protobuf.Struct."""

import datetime
import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import field_mask_pb2, json_format, struct_pb2, timestamp_pb2

from dockyard_kit.errors import InvalidArgument


def set_timestamp(field: timestamp_pb2.Timestamp, value: datetime.datetime) -> None:
    """`field.FromDatetime(value)`, at a fraction of its cost for the aware datetimes asyncpg returns
    (a list of fifty rows sets a hundred of them)."""
    if value.tzinfo is None:
        field.FromDatetime(value)  # naive: taken as UTC
        return
    field.seconds = math.floor(value.timestamp())
    field.nanos = value.microsecond * 1000


def struct_from_json(value: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if value != "{}":  # the usual value, and parsing it is most of the cost of a list's row
        struct.update(json.loads(value))
    return struct


def dict_from_struct(struct: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(struct)


def integral_numbers(value):
    """JSON from a google.protobuf.Struct, whose numbers are all doubles: 8080.0 back to 8080, so
    integer keys (ports, retries, memory_mb) check and store as integers."""
    if isinstance(value, dict):
        return {key: integral_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_id(value: str, field: str) -> uuid.UUID:
    """A resource id from a request: malformed ids are the client's mistake, named by field."""
    if not value:
        raise InvalidArgument(field, "is required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(field, "must be a UUID") from None


def optional_id(value: str, field: str) -> uuid.UUID | None:
    """An id that may be left empty (unset); malformed ones are still the client's mistake."""
    return parse_id(value, field) if value else None


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


# Turns a request field's value into the domain's: called with the value and the field's name.
FieldParser = Callable[[Any, str], Any]


def field_values(message, paths: Iterable[str], parsers: Mapping[str, FieldParser] | None = None) -> dict:
    """The values of the fields `paths` of `message` as the domain takes them: a Struct as a dict, a
    field named in `parsers` through its parser (e.g. {"team_id": optional_id}), others as they are."""
    parsers = parsers or {}
    values = {}
    for path in paths:
        value = getattr(message, path)
        if path in parsers:
            value = parsers[path](value, path)
        elif isinstance(value, struct_pb2.Struct):
            value = dict_from_struct(value)
        values[path] = value
    return values


def mask_changes(
    mask: field_mask_pb2.FieldMask,
    message,
    allowed: tuple[str, ...],
    parsers: Mapping[str, FieldParser] | None = None,
) -> dict:
    """An update's changes: each field mask_paths names, with its value from `message` (field_values)."""
    return field_values(message, mask_paths(mask, message, allowed), parsers)
