"""The deny-list: users whose still-unexpired access tokens must stop working everywhere because they
were disabled or deleted.

Identity publishes dockyard.identity.user.disabled / enabled / deleted. In every service, one
EventConsumer (shared by the service's replicas) keeps the `revoked_users` table of the service's
own schema in step: disabled and deleted add the user, enabled removes a disabled one. Every process
reloads that table into memory every RELOAD_INTERVAL_SECONDS, so all replicas refuse a revoked user
within that time of whichever replica consumed the event; a process that cannot reload for
STALE_AFTER_SECONDS refuses every token (UNAVAILABLE) rather than trust an old list.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import asyncpg
import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.dialects import postgresql

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.db import DATABASE_ERRORS
from dockyard_kit.errors import Unavailable
from dockyard_kit.events import EventConsumer, NatsLink, event_type, subject_for

log = logging.getLogger("dockyard.auth")

TABLE = "revoked_users"
CONSUMER_NAME = "revocations"
SUBJECTS = [subject_for(event_type("identity", "user", verb)) for verb in ("disabled", "enabled", "deleted")]

DENY_LIST_USERS = Gauge("dockyard_deny_list_users", "Disabled or deleted users this process refuses")

RELOAD_INTERVAL_SECONDS = 0.5
# Three missed reloads: the list may be missing a revocation, so nobody is let in on its word.
STALE_AFTER_SECONDS = 1.5


def create_revocation_tables(op, schema: str, *, keep_existing: bool = False) -> None:
    """For a migration (the kit's own, in every service's schema): `create_revocation_tables(op,
    schema)`. With keep_existing, a table already in the schema is left as it is."""
    if keep_existing and sa.inspect(op.get_bind()).has_table(TABLE, schema=schema):
        return
    op.create_table(
        TABLE,
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("reason IN ('disabled', 'deleted')", name="check_revoked_users_reason"),
        schema=schema,
    )


def drop_revocation_tables(op, schema: str) -> None:
    op.drop_table(TABLE, schema=schema)


async def apply_user_event(conn: asyncpg.Connection, event: Event) -> None:
    """The consumer's handler: one identity.user.* event applied to the service's revoked_users."""
    verb = event.type.rpartition(".")[2]
    user_id = uuid.UUID(event.resource_id)
    if verb == "enabled":
        await conn.execute(f"DELETE FROM {TABLE} WHERE user_id = $1 AND reason = 'disabled'", user_id)
    elif verb in ("disabled", "deleted"):
        # A deleted user stays deleted, whatever arrives after.
        await conn.execute(
            f"INSERT INTO {TABLE} AS r (user_id, reason) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, revoked_at = now()"
            " WHERE r.reason <> 'deleted'",
            user_id,
            verb,
        )
    else:
        raise ValueError(f"not a revocation event: {event.type!r}")


def revocation_consumer(pool: asyncpg.Pool, link: NatsLink) -> EventConsumer:
    return EventConsumer(pool, link, CONSUMER_NAME, SUBJECTS, apply_user_event)


class RevokedUsers:
    """This process's copy of the service's revoked_users table."""

    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool | None],
        *,
        reload_interval: float = RELOAD_INTERVAL_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The pool is created after the server starts listening, hence a provider, not a pool.
        self.pool_provider = pool_provider
        self.reload_interval = reload_interval
        self.stale_after = stale_after
        self.clock = clock
        self._user_ids: frozenset[str] = frozenset()
        self._loaded_at: float | None = None

    def is_revoked(self, user_id: str) -> bool:
        if self._loaded_at is None or self.clock() - self._loaded_at > self.stale_after:
            raise Unavailable("cannot check the account's status right now; retry shortly")
        return user_id in self._user_ids

    async def reload(self) -> None:
        loaded_at = self.clock()
        async with asyncio.timeout(self.stale_after), self.pool_provider().acquire() as conn:
            rows = await conn.fetch(f"SELECT user_id FROM {TABLE}")
        self._user_ids = frozenset(str(row["user_id"]) for row in rows)
        self._loaded_at = loaded_at
        DENY_LIST_USERS.set(len(self._user_ids))

    async def run(self) -> None:
        """Reloads every reload_interval until cancelled; a failed reload is retried at the next."""
        failing = False
        while True:
            try:
                await self.reload()
                if failing:
                    log.info("deny-list reloaded again", extra={"revoked_users": len(self._user_ids)})
                failing = False
            except DATABASE_ERRORS as exc:
                if not failing:
                    log.warning("cannot reload the deny-list", extra={"error": repr(exc)})
                failing = True
            await asyncio.sleep(self.reload_interval)
