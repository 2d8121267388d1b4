"""SQL of channels: writing, reading, a page of a project's or a team's, and the channels an event
of a project reaches."""

import datetime
import json
import uuid

import asyncpg

COLUMNS = (
    "id, project_id, team_id, name, kind, config, secrets, events, certificate_expiring_within_days,"
    " enabled, created_at, updated_at"
)


async def insert(conn: asyncpg.Connection, values: dict) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO channels (id, project_id, team_id, name, kind, config, secrets, events,"
        " certificate_expiring_within_days, enabled) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)"
        f" RETURNING {COLUMNS}",
        values["id"],
        values["project_id"],
        values["team_id"],
        values["name"],
        values["kind"],
        json.dumps(values["config"]),
        values["secrets"],
        values["events"],
        values["certificate_expiring_within_days"],
        values["enabled"],
    )


async def fetch(
    conn: asyncpg.Connection, channel_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM channels WHERE id = $1" + (" FOR UPDATE" if lock else ""), channel_id
    )


# The columns an update may set, with their SQL casts.
_UPDATABLE = {
    "name": "",
    "config": "::jsonb",
    "secrets": "",
    "events": "::text[]",
    "certificate_expiring_within_days": "",
    "enabled": "",
}


async def update(conn: asyncpg.Connection, channel_id: uuid.UUID, changes: dict) -> asyncpg.Record:
    columns = [column for column in _UPDATABLE if column in changes]
    sets = ", ".join(f"{column} = ${n}{_UPDATABLE[column]}" for n, column in enumerate(columns, start=2))
    values = [json.dumps(changes[c]) if c == "config" else changes[c] for c in columns]
    return await conn.fetchrow(
        f"UPDATE channels SET {sets}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        channel_id,
        *values,
    )


async def delete(conn: asyncpg.Connection, channel_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM channels WHERE id = $1", channel_id)


async def page(
    conn: asyncpg.Connection,
    owner_column: str,
    owner_id: uuid.UUID,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Oldest first, after (created_at, id) when given; owner_column is project_id or team_id."""
    assert owner_column in ("project_id", "team_id")
    if after is None:
        return await conn.fetch(
            f"SELECT {COLUMNS} FROM channels WHERE {owner_column} = $1 ORDER BY created_at, id LIMIT $2",
            owner_id,
            limit,
        )
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM channels WHERE {owner_column} = $1 AND (created_at, id) > ($2, $3)"
        " ORDER BY created_at, id LIMIT $4",
        owner_id,
        after[0],
        after[1],
        limit,
    )


async def reached_by(
    conn: asyncpg.Connection, project_id: uuid.UUID, team_id: uuid.UUID | None, event: str
) -> list[uuid.UUID]:
    """The enabled channels subscribed to `event` of the project, or of the team that holds it."""
    rows = await conn.fetch(
        "SELECT id FROM channels WHERE enabled AND $3 = ANY(events)"
        " AND (project_id = $1 OR ($2::uuid IS NOT NULL AND team_id = $2))",
        project_id,
        team_id,
        event,
    )
    return [row["id"] for row in rows]
