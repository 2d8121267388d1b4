"""ListUsers over 10,000 users: p95 under 20 ms (issue 3).

Seeds 10,000 users straight into the identity schema (bcrypt for each through the API would take
an hour of CPU and measure nothing about listing), then times pages of ListUsers over gRPC, both
straight to the identity service and through the gateway, for the first page, a deep page reached
by its page token, and a prefix filter.

    make bench            # every benchmark
    .venv/bin/python -m bench.list_users
"""

import asyncio

import asyncpg
import grpc
from rich.console import Console
from rich.table import Table

from bench.support import percentiles, platform, sign_in_admin, timed
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc

USERS = 10_000
REQUESTS = 400
TARGET_P95_MS = 20.0


async def seed_users(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO identity.users (username, email, password_hash, role)
            SELECT 'user-' || lpad(n::text, 5, '0'), 'user' || n || '@example.com', NULL,
                   (ARRAY['developer', 'viewer', 'admin'])[1 + n % 3]
            FROM generate_series(1, $1) AS n
            """,
            USERS,
        )
        await conn.execute("ANALYZE identity.users")
    finally:
        await conn.close()


def measure(
    stub: identity_pb2_grpc.UserServiceStub, token: str, request: identity_pb2.ListUsersRequest
) -> dict:
    metadata = (("authorization", f"Bearer {token}"),)
    for _ in range(20):  # warm up connections and plans
        stub.ListUsers(request, metadata=metadata, timeout=5)
    samples = [timed(lambda: stub.ListUsers(request, metadata=metadata, timeout=5)) for _ in range(REQUESTS)]
    return percentiles(samples)


def main() -> None:
    console = Console()
    with platform() as running:
        with grpc.insecure_channel(running.addresses["identity"]) as channel:
            sign_in_admin(channel)  # first-run setup must come before the seeded users
        console.print(f"seeding {USERS:,} users…")
        asyncio.run(seed_users(running.admin_dsn()))
        table = Table(title=f"ListUsers over {USERS:,} users, {REQUESTS} requests each (ms)")
        for column in ("path", "query", "p50", "p95", "p99", "max", f"p95 < {TARGET_P95_MS:.0f} ms"):
            table.add_column(column, justify="right" if column[0] == "p" or column == "max" else "left")
        for path, address in (("direct", running.addresses["identity"]), ("gateway", running.gateway)):
            with grpc.insecure_channel(address) as channel:
                token = sign_in_admin(channel)
                stub = identity_pb2_grpc.UserServiceStub(channel)
                metadata = (("authorization", f"Bearer {token}"),)
                deep = identity_pb2.ListUsersRequest(page_size=50)
                for _ in range(100):  # walk 5,000 users in
                    deep.page_token = stub.ListUsers(deep, metadata=metadata, timeout=5).next_page_token
                queries = {
                    "first page (50)": identity_pb2.ListUsersRequest(page_size=50),
                    "page 101 (50)": deep,
                    "prefix user-07 (100)": identity_pb2.ListUsersRequest(page_size=100, prefix="user-07"),
                    "role viewer (50)": identity_pb2.ListUsersRequest(page_size=50, role="viewer"),
                }
                for name, request in queries.items():
                    result = measure(stub, token, request)
                    verdict = "[green]yes[/]" if result["p95"] < TARGET_P95_MS else "[red]no[/]"
                    table.add_row(
                        path, name, *(f"{result[k]:.2f}" for k in ("p50", "p95", "p99", "max")), verdict
                    )
        console.print(table)


if __name__ == "__main__":
    main()
