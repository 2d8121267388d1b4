"""The caller as a service's decisions see them: the verified token's caller, with the lesser of the
platform role the token states and the role the service knows for the account now (identity's own
accounts, or another service's read model of identity's events). A demotion applies at once; a
promotion needs a new token, so a token never does more than it states. CurrentRoles keeps what a
service read for an account for half a second, so that a client's calls in a row read it once."""

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from dockyard_kit.auth import PLATFORM_ROLES, Caller


def effective_role(token_role: str, current_role: str | None) -> str:
    """The lesser of the two roles; `current_role` None (the service has not heard of the account
    yet) leaves the token's role."""
    if current_role is None:
        return token_role
    # PLATFORM_ROLES runs from the highest role down: the lesser role is the later one.
    return max(token_role, current_role, key=PLATFORM_ROLES.index)


def effective_caller(caller: Caller, current_role: str | None) -> Caller:
    role = effective_role(caller.role, current_role)
    return caller if role == caller.role else dataclasses.replace(caller, role=role)


# How long a role read for an account is reused. A change reaches the replica that applied it at
# once (`forget`) and every other replica within this, inside revocation's bound (revocations.py).
ROLE_MEMO_SECONDS = 0.5
ROLE_MEMO_SIZE = 10_000


class CurrentRoles:
    """A per-process memo of the current role a service reads for each calling account, so that a
    client's calls in quick succession read it once, not once each: calls that arrive while it is
    being read wait for that one read."""

    def __init__(self, ttl: float = ROLE_MEMO_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        # user id -> (role, read until); insertion order is age.
        self._entries: dict[str, tuple[str | None, float]] = {}
        # user id -> the read in flight, which later callers share.
        self._reading: dict[str, asyncio.Task] = {}
        # Bumped by every `forget`: a read that overlapped one is not kept, it may predate the change.
        self._generation = 0

    async def get(self, user_id: str, read: Callable[[], Awaitable[str | None]]) -> str | None:
        entry = self._entries.get(user_id)
        if entry is not None and self.clock() < entry[1]:
            return entry[0]
        reading = self._reading.get(user_id)
        if reading is None:
            reading = self._reading[user_id] = asyncio.ensure_future(self._read(user_id, read))
        # Shielded: one caller giving up does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def _read(self, user_id: str, read: Callable[[], Awaitable[str | None]]) -> str | None:
        generation, started = self._generation, self.clock()
        try:
            role = await read()
        finally:
            if self._reading.get(user_id) is asyncio.current_task():
                del self._reading[user_id]
        if generation == self._generation:
            self._entries.pop(user_id, None)
            if len(self._entries) >= ROLE_MEMO_SIZE:
                del self._entries[next(iter(self._entries))]
            self._entries[user_id] = (role, started + self.ttl)
        return role

    def forget(self, user_id: str) -> None:
        """After a change to the account's role has committed: reads in flight may predate it, so
        later callers start their own."""
        self._entries.pop(user_id, None)
        self._reading.clear()
        self._generation += 1
