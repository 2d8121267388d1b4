"""SQL for identity.teams, identity.team_members and identity.team_invitations. Member records
carry the member's username, which lists show and sort by; invitation records the team's name and
the inviter's username. A constraint a write runs into (the last owner, a second membership, a
second pending invitation) is worded in constraint_messages.py."""

import datetime
import json
import uuid

import asyncpg

from dockyard_kit import sql
from dockyard_kit.errors import constraint_wording
from services.identity.constraint_messages import MESSAGES

TEAM_COLUMNS = "id, name, description, settings, created_at, updated_at"
MEMBER_COLUMNS = "m.id, m.team_id, m.user_id, m.role, m.joined_at, u.username"


# -- teams --------------------------------------------------------------------------------------


async def insert_team(
    conn: asyncpg.Connection, *, name: str, description: str, settings: dict
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"INSERT INTO teams (name, description, settings) VALUES ($1, $2, $3::jsonb) RETURNING {TEAM_COLUMNS}",
        name,
        description,
        json.dumps(settings),
    )


async def get_team(conn: asyncpg.Connection, team_id) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1", team_id)


async def update_team(conn: asyncpg.Connection, team_id, changes: dict) -> asyncpg.Record | None:
    """Sets the given columns (of name, description, settings) and updated_at."""
    assignments, args = sql.update_set(changes, json_columns=("settings",))
    return await conn.fetchrow(
        f"UPDATE teams SET {assignments} WHERE id = $1 RETURNING {TEAM_COLUMNS}", team_id, *args
    )


async def delete_team(conn: asyncpg.Connection, team_id) -> None:
    await conn.execute("DELETE FROM teams WHERE id = $1", team_id)


async def list_teams(
    conn: asyncpg.Connection, *, after: str | None, limit: int, member_user_id: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    """Teams in name order after `after`; only those `member_user_id` belongs to, when given."""
    return await conn.fetch(
        f"SELECT {TEAM_COLUMNS} FROM teams"
        " WHERE ($1::text IS NULL OR name > $1)"
        "   AND ($2::uuid IS NULL OR id IN (SELECT team_id FROM team_members WHERE user_id = $2))"
        " ORDER BY name LIMIT $3",
        after,
        member_user_id,
        limit,
    )


# -- members ------------------------------------------------------------------------------------


async def member_role(conn: asyncpg.Connection, team_id, user_id) -> str | None:
    """The user's role in the team; None when they are not a member (or there is no such team)."""
    return await conn.fetchval(
        "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2", team_id, user_id
    )


async def get_member(
    conn: asyncpg.Connection, team_id, user_id, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF m" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id"
        f" WHERE m.team_id = $1 AND m.user_id = $2{lock}",
        team_id,
        user_id,
    )


async def insert_member(conn: asyncpg.Connection, *, team_id, user_id, role: str) -> asyncpg.Record:
    with constraint_wording(MESSAGES):
        return await conn.fetchrow(
            "WITH m AS (INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) RETURNING *)"
            f" SELECT {MEMBER_COLUMNS} FROM m JOIN users u ON u.id = m.user_id",
            team_id,
            user_id,
            role,
        )


async def update_member_role(conn: asyncpg.Connection, team_id, user_id, role: str) -> asyncpg.Record:
    with constraint_wording(MESSAGES):
        return await conn.fetchrow(
            "WITH m AS (UPDATE team_members SET role = $3 WHERE team_id = $1 AND user_id = $2 RETURNING *)"
            f" SELECT {MEMBER_COLUMNS} FROM m JOIN users u ON u.id = m.user_id",
            team_id,
            user_id,
            role,
        )


async def delete_member(conn: asyncpg.Connection, team_id, user_id) -> None:
    with constraint_wording(MESSAGES):
        await conn.execute("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2", team_id, user_id)


async def list_members(
    conn: asyncpg.Connection, team_id, *, after: str | None, limit: int
) -> list[asyncpg.Record]:
    """The team's members in username order after `after`."""
    return await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.team_id = $1 AND ($2::text IS NULL OR u.username > $2)"
        " ORDER BY u.username LIMIT $3",
        team_id,
        after,
        limit,
    )


async def memberships_of_team(conn: asyncpg.Connection, team_id) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1",
        team_id,
    )


async def memberships_of_user(conn: asyncpg.Connection, user_id) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.user_id = $1",
        user_id,
    )


async def delete_user_memberships(conn: asyncpg.Connection, user_id) -> None:
    """Before a user is deleted (the cascade would do the same); the last-owner trigger refuses it
    while they are a team's only owner."""
    with constraint_wording(MESSAGES):
        await conn.execute("DELETE FROM team_members WHERE user_id = $1", user_id)


# -- invitations --------------------------------------------------------------------------------

# An invitation still pending past its expiry reads as expired: the stored state catches up when the
# team invites that login again (expire_stale_invitation) or the invitee answers.
INVITATION_COLUMNS = (
    "i.id, i.team_id, t.name AS team_name, i.invitee, i.invitee_user_id, i.role,"
    " CASE WHEN i.state = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.state END AS state,"
    " coalesce(u.username, '') AS invited_by, i.created_at, i.expires_at, i.answered_at"
)
INVITATIONS = "team_invitations i JOIN teams t ON t.id = i.team_id LEFT JOIN users u ON u.id = i.invited_by"


async def expire_stale_invitation(conn: asyncpg.Connection, team_id, invitee: str) -> None:
    """Marks the team's pending invitation of `invitee` expired if its time is up, so that a new one
    may be sent (one pending invitation per team and login)."""
    await conn.execute(
        "UPDATE team_invitations SET state = 'expired'"
        " WHERE team_id = $1 AND invitee = $2 AND state = 'pending' AND expires_at <= now()",
        team_id,
        invitee,
    )


async def insert_invitation(
    conn: asyncpg.Connection,
    *,
    team_id,
    invitee: str,
    invitee_user_id,
    role: str,
    invited_by,
    expires_at: datetime.datetime,
) -> asyncpg.Record:
    with constraint_wording(MESSAGES, invitee=invitee):
        invitation_id = await conn.fetchval(
            "INSERT INTO team_invitations (team_id, invitee, invitee_user_id, role, invited_by, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            team_id,
            invitee,
            invitee_user_id,
            role,
            invited_by,
            expires_at,
        )
    return await get_invitation(conn, invitation_id)


async def get_invitation(
    conn: asyncpg.Connection, invitation_id, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF i" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} WHERE i.id = $1{lock}", invitation_id
    )


async def answer_invitation(conn: asyncpg.Connection, invitation_id, state: str) -> asyncpg.Record:
    """Records the answer (accepted, declined, revoked) to a pending invitation."""
    await conn.execute(
        "UPDATE team_invitations SET state = $2, answered_at = now() WHERE id = $1", invitation_id, state
    )
    return await get_invitation(conn, invitation_id)


async def list_team_invitations(
    conn: asyncpg.Connection, team_id, *, after: tuple[datetime.datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    conditions = sql.Conditions()
    conditions.add("i.team_id = $?", team_id)
    return await conn.fetch(
        f"SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} {conditions.newest_first_page(after, limit, alias='i')}",
        *conditions.args,
    )


async def list_pending_invitations_of_user(
    conn: asyncpg.Connection, user_id, *, after: tuple[datetime.datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    conditions = sql.Conditions()
    conditions.add("i.invitee_user_id = $?", user_id)
    conditions.add("i.state = 'pending' AND i.expires_at > now()")
    return await conn.fetch(
        f"SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} {conditions.newest_first_page(after, limit, alias='i')}",
        *conditions.args,
    )
