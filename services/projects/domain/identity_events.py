"""The projects service's consumer of identity's events: the read model of users' platform roles
and team memberships (store/read_model.py), and the seed's cascades across the two services - a
deleted user's projects go with everything in them, a deleted team's projects lose their team.

Each event is applied in the consumer's transaction, which also records it in the inbox (so a
redelivery applies once); every handler is idempotent anyway, and an event about something already
gone changes nothing and is acknowledged.
"""

import uuid

import asyncpg

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.projects.v1 import events_pb2
from dockyard_kit.events import EventConsumer, event_type, subject_for
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import events
from services.projects.domain.projects import delete_with_children
from services.projects.store import read_model
from services.projects.store.session import as_platform

CONSUMER_NAME = "identity"

VERBS = {
    "user": ("created", "updated", "role_changed", "enabled", "disabled", "deleted"),
    "team": ("deleted",),
    "team_member": ("added", "role_changed", "removed"),
}
SUBJECTS = [
    subject_for(event_type("identity", resource, verb)) for resource, verbs in VERBS.items() for verb in verbs
]


async def _user_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
    user_id = uuid.UUID(event.resource_id)
    if verb != "deleted":
        changed = identity_events.UserChanged()
        event.payload.Unpack(changed)
        await read_model.upsert_user_role(conn, user_id, changed.user.role)
        return
    # The seed: USER -> PROJECT is CASCADE.
    for project_id in await read_model.owned_project_ids(conn, user_id):
        await delete_with_children(conn, project_id, actor="")
    await read_model.forget_user(conn, user_id)


async def _team_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
    # Only "deleted" is subscribed to. The seed: TEAM -> PROJECT is SET NULL.
    team_id = uuid.UUID(event.resource_id)
    for row in await read_model.detach_team(conn, team_id):
        payload = events_pb2.ProjectChanged(project=convert.project(row))
        await events.emit(conn, "project", "updated", row["id"], payload, actor="")
    await read_model.forget_team(conn, team_id)


async def _team_member_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
    changed = identity_events.TeamMemberChanged()
    event.payload.Unpack(changed)
    member = changed.member
    membership_id = uuid.UUID(member.id)
    if verb == "removed":
        await read_model.remove_membership(conn, membership_id)
    else:
        await read_model.upsert_member(
            conn, uuid.UUID(member.team_id), uuid.UUID(member.user_id), membership_id, member.role
        )


HANDLERS = {"user": _user_event, "team": _team_event, "team_member": _team_member_event}


async def apply_identity_event(conn: asyncpg.Connection, event: Event) -> None:
    """The consumer's handler, inside the transaction that records the event in the inbox."""
    await as_platform(conn)  # the service's own work: row-level security lets it see every project
    _, resource, verb = event.type.split(".")
    await HANDLERS[resource](conn, verb, event)


async def consume_identity_events(runtime: ServiceRuntime) -> None:
    """A background job: runs until cancelled. A user's new role is read afresh on their next call
    (dockyard_kit.access.CurrentRoles)."""

    def forget_role(event: Event) -> None:
        if event.type.split(".")[1] == "user":
            runtime.current_roles.forget(event.resource_id)

    consumer = EventConsumer(
        runtime.pool, runtime.nats, CONSUMER_NAME, SUBJECTS, apply_identity_event, after_commit=forget_role
    )
    await consumer.run()
