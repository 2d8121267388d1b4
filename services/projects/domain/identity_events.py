"""The projects service's consumer of identity's events: the kit keeps the read model of users'
platform roles and team memberships (dockyard_kit/identity_read_model.py); here are the seed's
cascades across the two services - a deleted user's projects go with everything in them, a deleted
team's projects lose their team. They run in the event's transaction, before the read model
forgets the user or team.
"""

import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit import identity_read_model
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import events
from services.projects.domain.projects import delete_with_children
from services.projects.store import read_model
from services.projects.store.session import as_platform

CONSUMER_NAME = "identity"


async def delete_users_projects(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    # The seed: USER -> PROJECT is CASCADE.
    for project_id in await read_model.owned_project_ids(conn, user_id):
        await delete_with_children(conn, project_id, actor="")


async def detach_teams_projects(conn: asyncpg.Connection, team_id: uuid.UUID) -> None:
    # The seed: TEAM -> PROJECT is SET NULL.
    for row in await read_model.detach_team(conn, team_id):
        payload = events_pb2.ProjectChanged(project=convert.project(row))
        await events.emit(conn, "project", "updated", row["id"], payload, actor="")


async def consume_identity_events(runtime: ServiceRuntime) -> None:
    """A background job: runs until cancelled. A user's new role is read afresh on their next call
    (dockyard_kit.access.CurrentRoles)."""
    consumer = identity_read_model.consumer(
        runtime,
        CONSUMER_NAME,
        on_user_deleted=delete_users_projects,
        on_team_deleted=detach_teams_projects,
        # The service's own work: row-level security lets it see every project.
        prepare=as_platform,
    )
    await consumer.run()
