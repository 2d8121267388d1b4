"""A service's read model of identity's users and team memberships, kept from identity's events:
each user's current platform role (table user_roles: a demotion applies before the caller's token
expires, dockyard_kit.access) and who is in which team with which role (table team_members: the
team role that project access decisions take, dockyard_kit.project_access). The tables are made by
the service's migration with kit_migrations/identity_read_model_tables.py.

A service runs the consumer as a background job, passing hooks for its own cascades:

    async def on_user_deleted(conn, user_id): ...    # e.g. delete the user's projects
    async def on_team_deleted(conn, team_id): ...
    consumer = identity_read_model.consumer(runtime, "identity", on_user_deleted=on_user_deleted)
    await consumer.run()

Each event is applied in the consumer's transaction, which also records it in the inbox (so a
redelivery applies once); a hook runs in that transaction before the read model forgets the user or
team, so it may still read their memberships. Every step is idempotent anyway, and an event about
something already gone changes nothing and is acknowledged.
"""

import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard_kit.auth import Caller
from dockyard_kit.events import EventConsumer, Handler, event_type, subject_for
from dockyard_kit.server import ServiceRuntime
from dockyard_kit.servicer import Servicer

VERBS = {
    "user": ("created", "updated", "role_changed", "enabled", "disabled", "deleted"),
    "team": ("deleted",),
    "team_member": ("added", "role_changed", "removed"),
}
SUBJECTS = [
    subject_for(event_type("identity", resource, verb)) for resource, verbs in VERBS.items() for verb in verbs
]

# A service's cascade on a deleted user or team: (conn, its id), inside the event's transaction.
Cascade = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[None]]
# Runs first for every event, in its transaction (e.g. a session setting the service's queries need).
Prepare = Callable[[asyncpg.Connection], Awaitable[None]]


async def current_role(pool: asyncpg.Pool, user_id: str) -> str | None:
    """The user's platform role as last published by identity, or None if not seen yet."""
    return await pool.fetchval("SELECT role FROM user_roles WHERE user_id = $1", uuid.UUID(user_id))


async def team_role(conn: asyncpg.Connection, team_id: uuid.UUID, user_id: str) -> str | None:
    """The user's role in the team, or None when not a member."""
    return await conn.fetchval(
        "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2", team_id, uuid.UUID(user_id)
    )


async def upsert_user_role(conn: asyncpg.Connection, user_id: uuid.UUID, role: str) -> None:
    await conn.execute(
        "INSERT INTO user_roles (user_id, role) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()",
        user_id,
        role,
    )


async def forget_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """The user's role and memberships."""
    await conn.execute("DELETE FROM team_members WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM user_roles WHERE user_id = $1", user_id)


async def upsert_member(
    conn: asyncpg.Connection, team_id: uuid.UUID, user_id: uuid.UUID, membership_id: uuid.UUID, role: str
) -> None:
    await conn.execute(
        "INSERT INTO team_members (team_id, user_id, membership_id, role) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (team_id, user_id) DO UPDATE SET"
        " membership_id = EXCLUDED.membership_id, role = EXCLUDED.role, updated_at = now()",
        team_id,
        user_id,
        membership_id,
        role,
    )


async def remove_membership(conn: asyncpg.Connection, membership_id: uuid.UUID) -> None:
    """Only that membership: a late removal of an old one leaves a newer one of the same pair alone."""
    await conn.execute("DELETE FROM team_members WHERE membership_id = $1", membership_id)


async def forget_team(conn: asyncpg.Connection, team_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM team_members WHERE team_id = $1", team_id)


def handler(
    *,
    on_user_deleted: Cascade | None = None,
    on_team_deleted: Cascade | None = None,
    prepare: Prepare | None = None,
) -> Handler:
    """The consumer's handler of identity's events (SUBJECTS), inside the transaction that records
    the event in the inbox: keeps the two tables, running the service's hooks first."""

    async def user_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
        user_id = uuid.UUID(event.resource_id)
        if verb != "deleted":
            changed = identity_events.UserChanged()
            event.payload.Unpack(changed)
            await upsert_user_role(conn, user_id, changed.user.role)
            return
        if on_user_deleted is not None:
            await on_user_deleted(conn, user_id)
        await forget_user(conn, user_id)

    async def team_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
        # Only "deleted" is subscribed to.
        team_id = uuid.UUID(event.resource_id)
        if on_team_deleted is not None:
            await on_team_deleted(conn, team_id)
        await forget_team(conn, team_id)

    async def team_member_event(conn: asyncpg.Connection, verb: str, event: Event) -> None:
        changed = identity_events.TeamMemberChanged()
        event.payload.Unpack(changed)
        member = changed.member
        membership_id = uuid.UUID(member.id)
        if verb == "removed":
            await remove_membership(conn, membership_id)
        else:
            await upsert_member(
                conn, uuid.UUID(member.team_id), uuid.UUID(member.user_id), membership_id, member.role
            )

    handlers = {"user": user_event, "team": team_event, "team_member": team_member_event}

    async def apply(conn: asyncpg.Connection, event: Event) -> None:
        if prepare is not None:
            await prepare(conn)
        _, resource, verb = event.type.split(".")
        await handlers[resource](conn, verb, event)

    return apply


def consumer(
    runtime: ServiceRuntime,
    name: str,
    *,
    on_user_deleted: Cascade | None = None,
    on_team_deleted: Cascade | None = None,
    prepare: Prepare | None = None,
) -> EventConsumer:
    """The service's consumer `name` (its durable is "<schema>-<name>") of identity's events. Once a
    user's change commits, the runtime's memo forgets their role (runtime.current_roles), so this
    replica reads the new one on their next call."""

    def forget_role(event: Event) -> None:
        if event.type.split(".")[1] == "user":
            runtime.current_roles.forget(event.resource_id)

    apply = handler(on_user_deleted=on_user_deleted, on_team_deleted=on_team_deleted, prepare=prepare)
    return EventConsumer(runtime.pool, runtime.nats, name, SUBJECTS, apply, after_commit=forget_role)


class ReadModelServicer(Servicer):
    """The base of the servicers of a service whose callers' current platform roles come from this
    read model (the deployer, audit): a demotion or a disabled account applies there as fast as in
    projects."""

    async def current_role(self, caller: Caller) -> str | None:
        return await current_role(self.pool, caller.user_id)
