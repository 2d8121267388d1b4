"""The audit service. Its own RPCs arrive with its issue; today it serves health, reflection and its
component status, migrates its schema and relays its outbox."""

import pathlib

from dockyard_kit.server import ServiceSpec, run

SPEC = ServiceSpec(
    name="audit",
    migrations_dir=pathlib.Path(__file__).parent / "migrations",
    register=lambda server, runtime: None,
)

if __name__ == "__main__":
    run(SPEC)
