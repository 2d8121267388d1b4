"""The embedded stack: PostgreSQL, NATS, the four services and Envoy as supervised child processes.

`python -m dockyard_kit.stack` (what `make run` calls) starts all of it; the tests start the same
components through the classes in `components`.
"""
