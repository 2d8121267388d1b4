"""People and events for identity's tests against the database (domain functions, one database
per test): `create_people`, `as_caller`, `outbox_events`."""

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.auth import Caller
from services.identity.domain import users
from tests.support.accounts import PASSWORD


def as_caller(row) -> Caller:
    return Caller(user_id=str(row["id"]), role=row["role"])


async def create_people(pool, first: str, *others: str, role: str = "developer") -> list:
    """`first` through first-run setup (a super_admin), `others` created by them with `role`."""
    root = await users.create_first_super_admin(pool, first, f"{first}@example.com", PASSWORD)
    created = [root]
    for name in others:
        created.append(
            await users.create_user(
                pool,
                as_caller(root),
                username=name,
                email=f"{name}@example.com",
                password=PASSWORD,
                role=role,
                preferences={},
            )
        )
    return created


async def outbox_events(pool) -> list[Event]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox ORDER BY id")
    return [Event.FromString(row["envelope"]) for row in rows]
