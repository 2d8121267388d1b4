"""The events backbone (DESIGN.md, "Events"): a transactional outbox per service, a relay that
publishes it to JetStream, and consumers that apply each event once through an inbox.

A service wires it at start-up:

    link = NatsLink.from_settings(settings, service); link.start()
    tasks: OutboxRelay(pool, link).run(), EventConsumer(pool, link, name, subjects, handler).run(),
           housekeeping(pool, link, settings) (inbox and stream retention)

and at shutdown cancels the tasks, then `await link.close()`.

The tables' definitions (create_event_tables, drop_event_tables, event_metadata: events/tables.py)
load SQLAlchemy, which only migrations need: they are imported when first asked for, so that a
running service, which imports this package, never loads it.
"""

import importlib

from dockyard_kit.events.consumer import EventConsumer, Handler, apply_once
from dockyard_kit.events.nats import NatsLink
from dockyard_kit.events.outbox import EventEmitter, enqueue, event_type, new_event, subject_for
from dockyard_kit.events.parked import ParkedEvent, list_parked, replay_parked
from dockyard_kit.events.relay import OutboxRelay
from dockyard_kit.events.retention import housekeeping, prune_inbox, purge_acknowledged

__all__ = [
    "EventConsumer",
    "EventEmitter",
    "Handler",
    "NatsLink",
    "OutboxRelay",
    "ParkedEvent",
    "apply_once",
    "create_event_tables",
    "drop_event_tables",
    "enqueue",
    "event_metadata",
    "event_type",
    "housekeeping",
    "list_parked",
    "new_event",
    "prune_inbox",
    "purge_acknowledged",
    "replay_parked",
    "subject_for",
]

_TABLE_HELPERS = ("create_event_tables", "drop_event_tables", "event_metadata")


def __getattr__(name: str):
    if name in _TABLE_HELPERS:
        return getattr(importlib.import_module("dockyard_kit.events.tables"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
