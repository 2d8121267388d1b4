"""Slowing down and then refusing password guessers.

Failed sign-ins are counted per account (the login name as typed, lower-cased, whether or not an
account has it, so the counter reveals nothing) and per client address. Within FAILURE_WINDOW:

    account         from 3 failures each attempt waits; 5 failures lock it for LOCKOUT
    client address  from 10 failures each attempt waits; 20 failures lock it for LOCKOUT

The wait grows by DELAY_STEP per failure past the threshold, up to MAX_DELAY. A locked key is
refused at once (RESOURCE_EXHAUSTED) without checking the password. A successful sign-in clears the
account's counter; the address keeps its count, so one good password does not reopen guessing at
every other account from that address.
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


def account_key(login: str) -> str:
    return "account:" + login.strip().lower()


def address_key(client_ip: str) -> str:
    return "ip:" + client_ip


def keys_for(login: str, client_ip: str) -> dict[str, Limits]:
    """The counters one sign-in attempt is held to (no address when the client's is unknown)."""
    keys = {account_key(login): ACCOUNT_LIMITS}
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


def after_failure(counter: Counter, limits: Limits, now: datetime.datetime) -> Counter:
    counter = current(counter, now)
    failures = counter.failures + 1
    return Counter(
        failures=failures,
        window_started_at=counter.window_started_at or now,
        locked_until=now + LOCKOUT if failures >= limits.lock_after else None,
    )


def verdict(counters: dict[str, Counter], keys: dict[str, Limits], now: datetime.datetime) -> Verdict:
    standing = {key: current(counters[key], now) for key in keys if key in counters}
    locks = [counter.locked_until for counter in standing.values() if counter.locked_until is not None]
    delays = [delay_seconds(counter, keys[key], now) for key, counter in standing.items()]
    return Verdict(locked_until=max(locks, default=None), delay_seconds=max(delays, default=0.0))


def _counter(row: asyncpg.Record) -> Counter:
    return Counter(row["failures"], row["window_started_at"], row["locked_until"])


async def check(conn: asyncpg.Connection, keys: dict[str, Limits], now: datetime.datetime) -> Verdict:
    rows = await store.get_rows(conn, list(keys))
    return verdict({key: _counter(row) for key, row in rows.items()}, keys, now)


async def record_failure(conn: asyncpg.Connection, keys: dict[str, Limits], now: datetime.datetime) -> None:
    """Counts a failed attempt against every key, in the caller's transaction."""
    rows = await store.lock_rows(conn, list(keys))
    for key, limits in keys.items():
        counter = after_failure(_counter(rows[key]), limits, now)
        await store.save(
            conn,
            key,
            failures=counter.failures,
            window_started_at=counter.window_started_at,
            locked_until=counter.locked_until,
        )


async def record_success(conn: asyncpg.Connection, login: str) -> None:
    await store.clear(conn, account_key(login))


async def purge_stale(pool: asyncpg.Pool, now: datetime.datetime) -> int:
    """Forgets counters that no longer limit anything (names sprayed by a guesser pile up otherwise)."""
    async with pool.acquire() as conn:
        return await store.delete_stale(conn, window_started_before=now - FAILURE_WINDOW, now=now)
