"""CurrentRoles, the per-process memo of callers' current roles: one read per account within the
ttl, a fresh one after it or after `forget`, never keeping a read that overlapped a `forget` (it may
predate the change), and bounded in number."""

import asyncio

import pytest

from dockyard_kit import access
from dockyard_kit.access import CurrentRoles
from tests.support.tokens import Clock

USER, OTHER = "user-1", "user-2"


class Reads:
    """A role read that counts its calls."""

    def __init__(self, role: str | None = "developer") -> None:
        self.role = role
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        return self.role


async def test_gets_within_the_ttl_read_once():
    clock = Clock()
    roles = CurrentRoles(ttl=0.5, clock=clock)
    read = Reads("viewer")

    assert await roles.get(USER, read) == "viewer"
    clock.now += 0.4
    assert await roles.get(USER, read) == "viewer"
    assert read.calls == 1


async def test_an_account_the_service_does_not_know_is_memoised_too():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    read = Reads(None)

    assert await roles.get(USER, read) is None
    assert await roles.get(USER, read) is None
    assert read.calls == 1


async def test_after_the_ttl_the_role_is_read_again():
    clock = Clock()
    roles = CurrentRoles(ttl=0.5, clock=clock)
    read = Reads("admin")
    await roles.get(USER, read)

    clock.now += 0.6
    read.role = "viewer"
    assert await roles.get(USER, read) == "viewer"
    assert read.calls == 2


async def test_each_account_is_memoised_apart():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    mine, theirs = Reads("admin"), Reads("viewer")

    assert await roles.get(USER, mine) == "admin"
    assert await roles.get(OTHER, theirs) == "viewer"
    assert await roles.get(USER, mine) == "admin"
    assert (mine.calls, theirs.calls) == (1, 1)


async def test_forget_makes_the_next_get_read_again():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    read = Reads("admin")
    await roles.get(USER, read)

    read.role = "viewer"
    roles.forget(USER)
    assert await roles.get(USER, read) == "viewer"
    assert read.calls == 2


async def test_forgetting_one_account_keeps_the_others():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    mine, theirs = Reads(), Reads()
    await roles.get(USER, mine)
    await roles.get(OTHER, theirs)

    roles.forget(OTHER)
    await roles.get(USER, mine)
    assert mine.calls == 1


async def test_a_failed_read_is_not_kept():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    calls = 0

    async def failing() -> str | None:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await roles.get(USER, failing)
    assert calls == 2


class HeldRead:
    """A read that starts, then waits to be released before it returns its role."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return self.role


async def test_a_read_that_overlapped_a_forget_is_not_kept():
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    read = HeldRead("admin")  # what the account was before the demotion
    pending = asyncio.create_task(roles.get(USER, read))
    await read.started.wait()

    roles.forget(USER)  # the demotion committed while the read was in flight
    read.release.set()
    assert await pending == "admin"  # that caller's own answer stands...

    read.role = "viewer"
    assert await roles.get(USER, read) == "viewer"  # ...but the next one reads afresh
    assert read.calls == 2


async def test_a_read_that_overlapped_no_forget_is_kept():
    """The counterpart of the test above: holding the read alone does not stop it being kept."""
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    read = HeldRead("admin")
    pending = asyncio.create_task(roles.get(USER, read))
    await read.started.wait()

    read.release.set()
    assert await pending == "admin"
    assert await roles.get(USER, read) == "admin"
    assert read.calls == 1


async def test_the_memo_holds_at_most_role_memo_size_accounts(monkeypatch):
    monkeypatch.setattr(access, "ROLE_MEMO_SIZE", 3)
    roles = CurrentRoles(ttl=0.5, clock=Clock())
    reads = {f"user-{n}": Reads() for n in range(5)}

    for user, read in reads.items():
        await roles.get(user, read)
        assert len(roles._entries) <= 3

    # The three newest are kept; the oldest was let go and is read again.
    for user in ("user-4", "user-3", "user-2"):
        await roles.get(user, reads[user])
    assert all(read.calls == 1 for read in reads.values())
    await roles.get("user-0", reads["user-0"])
    assert reads["user-0"].calls == 2
