"""Slowing down and then refusing password guessers.

Sign-in attempts are counted per account and per client address. The account is the one the login
names, by username or by email alike (one account, one counter); a login that names no account is
counted under its digest (sessions.login_digest), so the table never holds what was typed, and the
counter tells nothing about whether an account exists. Within FAILURE_WINDOW:

    account         from 3 failures each attempt waits; 5 failures lock it for LOCKOUT
    client address  from 10 failures each attempt waits; 20 failures lock it for LOCKOUT

An attempt counts as a failure from before its password is checked (`reserve`, under the counters'
row locks), so parallel guesses cannot all see the same count: while as many attempts as the limit
are counted (in flight or failed), further ones are refused at once ("saturated", retry shortly),
so at most `lock_after` passwords are checked per account and lockout. The lock itself comes only
with a password known to be wrong (`confirm_failure`): parallel sign-ins with the right password
are slowed, never locked out. An attempt whose password was never checked (the service was busy)
is given back (`release`). A
success clears the account's counter and gives the address back that one attempt; the address keeps
its other failures, so one good password does not reopen guessing at every other account from it.

The wait grows by DELAY_STEP per failure past the threshold, up to MAX_DELAY. A locked key is
refused at once (RESOURCE_EXHAUSTED), neither counted nor checked.
"""

import dataclasses
import datetime

import asyncpg

from services.identity.store import throttle as store

FAILURE_WINDOW = datetime.timedelta(minutes=15)
LOCKOUT = datetime.timedelta(minutes=15)
DELAY_STEP_SECONDS = 0.5
MAX_DELAY_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Limits:
    delay_after: int
    lock_after: int


ACCOUNT_LIMITS = Limits(delay_after=3, lock_after=5)
ADDRESS_LIMITS = Limits(delay_after=10, lock_after=20)


@dataclasses.dataclass(frozen=True)
class Counter:
    failures: int = 0
    window_started_at: datetime.datetime | None = None
    locked_until: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the counters say about an attempt made now."""

    locked_until: datetime.datetime | None
    delay_seconds: float
    # As many attempts as the limit are already counted (some still being checked): refuse this one.
    saturated: bool = False


def account_key(user_id) -> str:
    return f"account:{user_id}"


def login_key(login_digest: str) -> str:
    """The account counter of a login that names no account."""
    return "login:" + login_digest


def address_key(client_ip: str) -> str:
    return "ip:" + client_ip


def keys_for(account: str, client_ip: str) -> dict[str, Limits]:
    """The counters one sign-in attempt is held to: its account's (an account_key or a login_key)
    and its address's (none when the client's address is unknown)."""
    keys = {account: ACCOUNT_LIMITS}
    if client_ip:
        keys[address_key(client_ip)] = ADDRESS_LIMITS
    return keys


def current(counter: Counter, now: datetime.datetime) -> Counter:
    """The counter as it stands at `now`: an ended lock or window starts a fresh count."""
    lock_ended = counter.locked_until is not None and counter.locked_until <= now
    window_ended = counter.window_started_at is None or counter.window_started_at + FAILURE_WINDOW <= now
    if lock_ended or (window_ended and counter.locked_until is None):
        return Counter()
    return counter


def delay_seconds(counter: Counter, limits: Limits, now: datetime.datetime) -> float:
    past_threshold = current(counter, now).failures - limits.delay_after + 1
    return min(past_threshold * DELAY_STEP_SECONDS, MAX_DELAY_SECONDS) if past_threshold > 0 else 0.0


def after_reservation(counter: Counter, now: datetime.datetime) -> Counter:
    """An attempt about to be checked, counted as a failure already but locking nothing yet."""
    counter = current(counter, now)
    # The window opens with the first failure counted (an emptied counter keeps an old start).
    window_started_at = counter.window_started_at if counter.failures else now
    return dataclasses.replace(counter, failures=counter.failures + 1, window_started_at=window_started_at)


def after_confirmed_failure(counter: Counter, limits: Limits, now: datetime.datetime) -> Counter:
    """A counted attempt whose password was wrong: the lock, once the failures reach the limit."""
    counter = current(counter, now)
    if counter.failures >= limits.lock_after and counter.locked_until is None:
        return dataclasses.replace(counter, locked_until=now + LOCKOUT)
    return counter


def after_release(counter: Counter, limits: Limits, now: datetime.datetime) -> Counter:
    """The counter with one counted attempt given back, and the lock with it if it no longer holds."""
    counter = current(counter, now)
    if counter.failures <= 1:
        return Counter()
    failures = counter.failures - 1
    locked_until = counter.locked_until if failures >= limits.lock_after else None
    return dataclasses.replace(counter, failures=failures, locked_until=locked_until)


def verdict(counters: dict[str, Counter], keys: dict[str, Limits], now: datetime.datetime) -> Verdict:
    standing = {key: current(counters[key], now) for key in keys if key in counters}
    locks = [counter.locked_until for counter in standing.values() if counter.locked_until is not None]
    delays = [delay_seconds(counter, keys[key], now) for key, counter in standing.items()]
    saturated = any(counter.failures >= keys[key].lock_after for key, counter in standing.items())
    return Verdict(
        locked_until=max(locks, default=None), delay_seconds=max(delays, default=0.0), saturated=saturated
    )


def _counter(row: asyncpg.Record) -> Counter:
    return Counter(row["failures"], row["window_started_at"], row["locked_until"])


async def _save(conn: asyncpg.Connection, key: str, counter: Counter, now: datetime.datetime) -> None:
    # An empty counter keeps its row (purge_stale removes it later): deleting it here would make
    # concurrent sign-ins waiting for its lock find it gone and insert it again, and deadlock.
    await store.save(
        conn,
        key,
        failures=counter.failures,
        window_started_at=counter.window_started_at or now,
        locked_until=counter.locked_until,
    )


async def reserve(conn: asyncpg.Connection, keys: dict[str, Limits], now: datetime.datetime) -> Verdict:
    """What the counters say about an attempt made now; unless a key is locked or saturated, the
    attempt is counted as a failure against every key (in the caller's transaction: the rows stay
    locked until it commits, so concurrent attempts are counted one after the other)."""
    rows = await store.lock_rows(conn, list(keys))
    counters = {key: _counter(row) for key, row in rows.items()}
    answer = verdict(counters, keys, now)
    if answer.locked_until is None and not answer.saturated:
        for key in keys:
            await _save(conn, key, after_reservation(counters[key], now), now)
    return answer


async def confirm_failure(conn: asyncpg.Connection, keys: dict[str, Limits], now: datetime.datetime) -> None:
    """A reserved attempt's password was wrong: every key whose failures reached its limit locks."""
    rows = await store.lock_rows(conn, list(keys))
    for key, limits in keys.items():
        await _save(conn, key, after_confirmed_failure(_counter(rows[key]), limits, now), now)


async def release(
    conn: asyncpg.Connection, keys: dict[str, Limits], now: datetime.datetime, *, clear: str | None = None
) -> None:
    """Gives a reserved attempt back to every key; the key `clear` (a succeeded sign-in's account)
    is forgotten instead."""
    rows = await store.lock_rows(conn, list(keys))
    for key, limits in keys.items():
        released = Counter() if key == clear else after_release(_counter(rows[key]), limits, now)
        await _save(conn, key, released, now)


async def purge_stale(pool: asyncpg.Pool, now: datetime.datetime) -> int:
    """Forgets counters that no longer limit anything (names sprayed by a guesser pile up otherwise)."""
    async with pool.acquire() as conn:
        return await store.delete_stale(conn, window_started_before=now - FAILURE_WINDOW, now=now)
