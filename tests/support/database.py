"""The running platform's database as its administrative login, for tests that read or arrange
rows behind a service's back (a superuser: row-level security does not apply)."""

import contextlib
import re

import asyncpg


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
