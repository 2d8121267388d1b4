"""The audit service's read models, kept by the trail consumer from the events it records:
usernames (each entry keeps its actor's name), deleted users (their later events are written without
user id), projects (owner and team: who manages a project's entries; their upsert is the kit's,
dockyard_kit.projects_read_model) and resources (which project an
application, database, domain or env var is in, and under which resource a revealed secret is
filed). Rows stay after their resource is deleted: the history they explain does not go away."""

import uuid

import asyncpg


async def upsert_user(conn: asyncpg.Connection, user_id: uuid.UUID, username: str) -> None:
    await conn.execute(
        "INSERT INTO users (id, username) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, updated_at = now()",
        user_id,
        username,
    )


async def forget_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """The seed's SET NULL: the user's entries keep their username and lose their user id, and so
    will their events still on the way. The number of entries changed."""
    await conn.execute("INSERT INTO deleted_users (id) VALUES ($1) ON CONFLICT DO NOTHING", user_id)
    status = await conn.execute("UPDATE audit_logs SET user_id = NULL WHERE user_id = $1", user_id)
    return int(status.split()[-1])


async def upsert_resources(conn: asyncpg.Connection, filed: dict) -> None:
    """{resource id: (resource type, the id it is filed under, its project)}, in one statement: an
    application, database, domain or env var filed under (resource type, id) of its project."""
    if not filed:
        return
    ids, (types, filed_ids, projects) = list(filed), zip(*filed.values(), strict=True)
    await conn.execute(
        "INSERT INTO resources (id, resource_type, resource_id, project_id)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[])"
        " ON CONFLICT (id) DO UPDATE SET resource_type = EXCLUDED.resource_type,"
        " resource_id = EXCLUDED.resource_id, project_id = EXCLUDED.project_id",
        ids,
        list(types),
        list(filed_ids),
        list(projects),
    )


async def filed_under(conn: asyncpg.Connection, resource_id: uuid.UUID) -> asyncpg.Record | None:
    """(resource_type, resource_id, project_id) a resource is filed under, if known."""
    return await conn.fetchrow(
        "SELECT resource_type, resource_id, project_id FROM resources WHERE id = $1", resource_id
    )


async def managed_teams(
    conn: asyncpg.Connection, user_id: uuid.UUID, roles: tuple[str, ...]
) -> list[uuid.UUID]:
    """The teams in which the user holds one of `roles` (identity read model, team_members)."""
    rows = await conn.fetch(
        "SELECT team_id FROM team_members WHERE user_id = $1 AND role = ANY($2::text[])", user_id, list(roles)
    )
    return [row["team_id"] for row in rows]
