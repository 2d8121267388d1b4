"""The projects service's events, written to the outbox in the caller's transaction:
projects.<resource>.<verb> with payloads from proto/dockyard/projects/v1/events.proto, built by
convert.py, which masks every secret exactly as the API does."""

from dockyard_kit.events import EventEmitter

emit = EventEmitter("projects").emit
