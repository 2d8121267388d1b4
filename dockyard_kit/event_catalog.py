"""The catalogue of integration events, read from the contract: each event payload message in
`proto/dockyard/<service>/v1/events.proto` names the event types it is carried by (the
`dockyard.api.v1.event_types` option). A service emits only catalogued types, each with its own
payload (events/outbox.py checks), so the catalogue is complete by construction, and consumers that
must handle every event (the audit trail) can walk it."""

import functools
import importlib
import pathlib

from google.protobuf.descriptor import Descriptor

import dockyard
from dockyard.api.v1 import options_pb2


@functools.cache
def payloads() -> dict[str, Descriptor]:
    """{event type: its payload's message descriptor}, for every event in the contract."""
    catalogue: dict[str, Descriptor] = {}
    # The generated packages are namespace packages (no __init__), so they are found by their files.
    found = sorted(
        {
            path.parent.parent.name
            for root in dockyard.__path__
            for path in pathlib.Path(root).glob("*/v1/events_pb2.py")
        }
    )
    for service in found:
        module = importlib.import_module(f"dockyard.{service}.v1.events_pb2")
        for message in module.DESCRIPTOR.message_types_by_name.values():
            for event_type in message.GetOptions().Extensions[options_pb2.event_types]:
                if event_type in catalogue:
                    raise ValueError(f"event type {event_type} is claimed by two payloads")
                catalogue[event_type] = message
    return catalogue


def check(event_type: str, payload_name: str) -> None:
    """Refuses an event the contract does not list, or one with another payload than its own."""
    descriptor = payloads().get(event_type)
    if descriptor is None:
        raise ValueError(f"event type {event_type} is not in the contract (the event_types option)")
    if descriptor.full_name != payload_name:
        raise ValueError(f"event type {event_type} carries {descriptor.full_name}, not {payload_name}")
