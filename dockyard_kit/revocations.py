"""The deny-list: still-unexpired access tokens that must stop working everywhere, because their
user was disabled or deleted, or what issued them ended (a session logged out or ended by a
password change, an API token deleted).

Access tokens name what issued them (dockyard_kit/auth.py): `sid`, the session (identity's
refresh-token family) of a signed-in user, or `api_token_id`, the API token one was exchanged for.
Identity publishes

  dockyard.identity.user.disabled / enabled / deleted      the user's tokens stop / work again
  dockyard.identity.session.revoked                         one session ended (logout, a reused
                                                           refresh token): its tokens stop
  dockyard.identity.user.sessions_revoked                   all of a user's sessions ended (password
                                                           change): their tokens stop, and so does
                                                           every session token issued before
                                                           `not_before`
  dockyard.identity.api_token.revoked                       the tokens exchanged for it stop

In every service, one EventConsumer (shared by the service's replicas) keeps three tables of the
service's own schema in step: `revoked_users`, `revoked_token_sources` (sessions and API tokens)
and `session_not_before` (per user). Every process reloads them into memory every
RELOAD_INTERVAL_SECONDS, so all replicas refuse a revoked token within that time of whichever
replica consumed the event; a process that cannot reload for STALE_AFTER_SECONDS refuses every
token (UNAVAILABLE) rather than trust an old list. A revoked session or API token, or a user's
not-before, is forgotten once every token it can concern has expired (MAX_TOKEN_LIFETIME_SECONDS
plus the clock leeway after it was recorded): identity issues no token for them after the event.
"""

import asyncio
import dataclasses
import datetime
import logging
import time
import uuid
from collections.abc import Callable

import asyncpg
from prometheus_client import Gauge

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2
from dockyard_kit.auth import (
    API_TOKEN_REVOKED,
    MAX_TOKEN_LIFETIME_SECONDS,
    REVOKED_USER,
    SESSION_ENDED,
    Caller,
)
from dockyard_kit.config import CLOCK_LEEWAY_SECONDS
from dockyard_kit.db import DATABASE_ERRORS
from dockyard_kit.errors import Unavailable
from dockyard_kit.events import EventConsumer, NatsLink, event_type, subject_for

log = logging.getLogger("dockyard.auth")

TABLE = "revoked_users"
TOKEN_SOURCES_TABLE = "revoked_token_sources"
NOT_BEFORE_TABLE = "session_not_before"
SESSION = "session"
API_TOKEN = "api_token"
CONSUMER_NAME = "revocations"
USER_VERBS = ("disabled", "enabled", "deleted")
SESSION_REVOKED = event_type("identity", "session", "revoked")
USER_SESSIONS_REVOKED = event_type("identity", "user", "sessions_revoked")
API_TOKEN_REVOKED_EVENT = event_type("identity", "api_token", "revoked")
SUBJECTS = [
    *(subject_for(event_type("identity", "user", verb)) for verb in USER_VERBS),
    subject_for(SESSION_REVOKED),
    subject_for(USER_SESSIONS_REVOKED),
    subject_for(API_TOKEN_REVOKED_EVENT),
]
# After this, no token a revoked session or API token (or a not-before) concerns is still valid.
FORGET_AFTER = datetime.timedelta(seconds=MAX_TOKEN_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS)

DENY_LIST_USERS = Gauge("dockyard_deny_list_users", "Disabled or deleted users this process refuses")
DENY_LIST_TOKEN_SOURCES = Gauge(
    "dockyard_deny_list_token_sources", "Ended sessions and revoked API tokens this process refuses"
)

RELOAD_INTERVAL_SECONDS = 0.5
# Three missed reloads: the list may be missing a revocation, so nobody is let in on its word.
STALE_AFTER_SECONDS = 1.5


async def _apply_user_event(conn: asyncpg.Connection, verb: str, user_id: uuid.UUID) -> None:
    if verb == "enabled":
        await conn.execute(f"DELETE FROM {TABLE} WHERE user_id = $1 AND reason = 'disabled'", user_id)
    else:
        # A deleted user stays deleted, whatever arrives after.
        await conn.execute(
            f"INSERT INTO {TABLE} AS r (user_id, reason) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, revoked_at = now()"
            " WHERE r.reason <> 'deleted'",
            user_id,
            verb,
        )


async def _revoke_sources(conn: asyncpg.Connection, kind: str, source_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        f"DELETE FROM {TOKEN_SOURCES_TABLE} WHERE revoked_at < now() - $1::interval", FORGET_AFTER
    )
    await conn.execute(
        f"INSERT INTO {TOKEN_SOURCES_TABLE} (kind, source_id) SELECT $1, unnest($2::uuid[])"
        " ON CONFLICT (kind, source_id) DO NOTHING",
        kind,
        source_ids,
    )


async def _apply_sessions_revoked(conn: asyncpg.Connection, user_id: uuid.UUID, event: Event) -> None:
    revoked = events_pb2.UserSessionsRevoked()
    if not event.payload.Unpack(revoked):
        raise ValueError(f"{event.type} without a UserSessionsRevoked payload")
    await _revoke_sources(conn, SESSION, [uuid.UUID(session_id) for session_id in revoked.session_ids])
    await conn.execute(
        f"DELETE FROM {NOT_BEFORE_TABLE} WHERE recorded_at < now() - $1::interval", FORGET_AFTER
    )
    await conn.execute(
        f"INSERT INTO {NOT_BEFORE_TABLE} AS n (user_id, not_before) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO UPDATE SET not_before = greatest(n.not_before, EXCLUDED.not_before),"
        " recorded_at = now()",
        user_id,
        revoked.not_before.ToDatetime(datetime.UTC),
    )


async def apply_revocation_event(conn: asyncpg.Connection, event: Event) -> None:
    """The consumer's handler: one identity event of SUBJECTS applied to the service's tables."""
    resource_id = uuid.UUID(event.resource_id)
    verb = event.type.rpartition(".")[2]
    if event.type in (event_type("identity", "user", verb) for verb in USER_VERBS):
        await _apply_user_event(conn, verb, resource_id)
    elif event.type == SESSION_REVOKED:
        await _revoke_sources(conn, SESSION, [resource_id])
    elif event.type == API_TOKEN_REVOKED_EVENT:
        await _revoke_sources(conn, API_TOKEN, [resource_id])
    elif event.type == USER_SESSIONS_REVOKED:
        await _apply_sessions_revoked(conn, resource_id, event)
    else:
        raise ValueError(f"not a revocation event: {event.type!r}")


def revocation_consumer(pool: asyncpg.Pool, link: NatsLink) -> EventConsumer:
    return EventConsumer(pool, link, CONSUMER_NAME, SUBJECTS, apply_revocation_event)


@dataclasses.dataclass(frozen=True)
class _Loaded:
    user_ids: frozenset[str] = frozenset()
    session_ids: frozenset[str] = frozenset()
    api_token_ids: frozenset[str] = frozenset()
    # User id: the time before which that user's session tokens were issued under an old password.
    not_before: dict[str, float] = dataclasses.field(default_factory=dict)


class DenyList:
    """This process's copy of the service's deny-list tables."""

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
        self._loaded = _Loaded()
        self._loaded_at: float | None = None

    def refusal(self, caller: Caller) -> str | None:
        """Why the caller's token is refused (the message to answer with), None when it is not."""
        if self._loaded_at is None or self.clock() - self._loaded_at > self.stale_after:
            raise Unavailable("cannot check the account's status right now; retry shortly")
        loaded = self._loaded
        if caller.user_id in loaded.user_ids:
            return REVOKED_USER
        if caller.api_token_id:
            return API_TOKEN_REVOKED if caller.api_token_id in loaded.api_token_ids else None
        if caller.session_id in loaded.session_ids:
            return SESSION_ENDED
        if caller.issued_at < loaded.not_before.get(caller.user_id, float("-inf")):
            return SESSION_ENDED
        return None

    async def reload(self) -> None:
        loaded_at = self.clock()
        async with asyncio.timeout(self.stale_after), self.pool_provider().acquire() as conn:
            users = await conn.fetch(f"SELECT user_id FROM {TABLE}")
            sources = await conn.fetch(f"SELECT kind, source_id FROM {TOKEN_SOURCES_TABLE}")
            not_before = await conn.fetch(f"SELECT user_id, not_before FROM {NOT_BEFORE_TABLE}")
        self._loaded = _Loaded(
            user_ids=frozenset(str(row["user_id"]) for row in users),
            session_ids=frozenset(str(row["source_id"]) for row in sources if row["kind"] == SESSION),
            api_token_ids=frozenset(str(row["source_id"]) for row in sources if row["kind"] == API_TOKEN),
            not_before={str(row["user_id"]): row["not_before"].timestamp() for row in not_before},
        )
        self._loaded_at = loaded_at
        DENY_LIST_USERS.set(len(self._loaded.user_ids))
        DENY_LIST_TOKEN_SOURCES.set(len(sources))

    async def run(self) -> None:
        """Reloads every reload_interval until cancelled; a failed reload is retried at the next."""
        failing = False
        while True:
            try:
                await self.reload()
                if failing:
                    log.info("deny-list reloaded again", extra={"revoked_users": len(self._loaded.user_ids)})
                failing = False
            except DATABASE_ERRORS as exc:
                if not failing:
                    log.warning("cannot reload the deny-list", extra={"error": repr(exc)})
                failing = True
            await asyncio.sleep(self.reload_interval)
