"""Deletions that take children with them publish a deleted event for every child, children first
(certificates, domains, volumes, env vars, git sources, then applications and databases), so that
the deployer and audit services can follow without knowing the seed's cascade rules."""

import asyncpg

from dockyard.projects.v1 import events_pb2
from services.projects import convert
from services.projects.domain import events

# Resource type -> the event payload for a deleted row of it.
PAYLOADS = {
    "certificate": lambda row: events_pb2.CertificateChanged(certificate=convert.certificate(row)),
    "domain": lambda row: events_pb2.DomainChanged(domain=convert.domain(row)),
    "volume": lambda row: events_pb2.VolumeChanged(volume=convert.volume(row)),
    "env_var": lambda row: events_pb2.EnvVarChanged(
        env_var=convert.env_var(row), project_id=str(row["project_id"])
    ),
    "git_source": lambda row: events_pb2.GitSourceChanged(
        git_source=convert.git_source(row), project_id=str(row["project_id"])
    ),
    "application": lambda row: events_pb2.ApplicationChanged(application=convert.application(row)),
    "database": lambda row: events_pb2.DatabaseChanged(database=convert.database(row)),
}


async def emit_deleted(conn: asyncpg.Connection, children: dict[str, list], *, actor: str) -> None:
    """One `<resource>.deleted` event per row, in the order of `PAYLOADS`."""
    for resource_type, payload in PAYLOADS.items():
        for row in children.get(resource_type, ()):
            await events.emit(conn, resource_type, "deleted", row["id"], payload(row), actor=actor)
