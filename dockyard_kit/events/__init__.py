"""The events backbone (DESIGN.md, "Events"): a transactional outbox per service, a relay that
publishes it to JetStream, and consumers that apply each event once through an inbox.

A service wires it at start-up:

    link = NatsLink.from_settings(settings, service); link.start()
    tasks: OutboxRelay(pool, link).run(), EventConsumer(pool, link, name, subjects, handler).run()

and at shutdown cancels the tasks, then `await link.close()`.
"""

from dockyard_kit.events.consumer import EventConsumer, Handler, apply_once
from dockyard_kit.events.nats import NatsLink
from dockyard_kit.events.outbox import EventEmitter, enqueue, event_type, new_event, subject_for
from dockyard_kit.events.parked import ParkedEvent, list_parked, replay_parked
from dockyard_kit.events.relay import OutboxRelay
from dockyard_kit.events.tables import create_event_tables, drop_event_tables, event_metadata

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
    "list_parked",
    "new_event",
    "replay_parked",
    "subject_for",
]
