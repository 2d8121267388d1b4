"""The running platform's database as its administrative login, for tests that read or arrange
rows behind a service's back (a superuser: row-level security does not apply); and the removal of a
scratch service role a test made."""

import contextlib
import re

import asyncpg

from dockyard_kit import db


@contextlib.asynccontextmanager
async def admin_database(stack, schema: str = "identity"):
    """A pool on the stack's database as its administrative login, searching `schema`."""
    port = re.search(r"PostgreSQL on 127\.0\.0\.1:(\d+)", stack.output())[1]
    password = (stack.data_dir / "postgres" / "postgres-password").read_text().strip()
    pool = await asyncpg.create_pool(
        host="127.0.0.1",
        port=int(port),
        user="postgres",
        password=password,
        database="dockyard",
        min_size=1,
        max_size=2,
        server_settings={"search_path": schema},
    )
    try:
        yield pool
    finally:
        await pool.close()


async def drop_service_role(settings, service: str) -> None:
    """A scratch service's role and everything it owns (its schema): roles are cluster-wide, so a
    test that made one removes it."""
    admin = await db.connect_admin(settings)
    try:
        role = db.role_name(service)
        await admin.execute(f"DROP OWNED BY {role} CASCADE")
        await admin.execute(f"DROP ROLE {role}")
    finally:
        await admin.close()
