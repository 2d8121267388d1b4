"""Passwords: bcrypt at cost 12 (seed), hashed and checked off the event loop (bcrypt is slow on
purpose, and would otherwise stall every other request of the process).

bcrypt runs in a pool of its own whose threads lower their scheduling priority: with every core
hashing, the event loop thread must still win the CPU, or every other request of the process
(GET /v1/users/me, say) waits behind password hashing.

At most HASHING_SLOTS hashes are in flight (running or waiting for a thread); past that, bcrypt work
is refused at once with RESOURCE_EXHAUSTED (`Busy`) rather than queued, so a flood of sign-ins costs
a bounded amount of CPU and memory and every caller learns at once to come back later.
"""

import asyncio
import concurrent.futures
import os

import bcrypt
from prometheus_client import Counter

from dockyard_kit.errors import InvalidArgument, ResourceExhausted

BCRYPT_COST = 12
MIN_LENGTH = 12
# bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
MAX_BYTES = 72

# Niceness of the hashing threads: above the event loop's, so sign-ins yield to everything else.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux, setpriority with who=0 applies to the calling thread only.
    os.setpriority(os.PRIO_PROCESS, 0, HASHING_NICENESS)


HASHING_THREADS = os.cpu_count() or 2
# A few hashes per thread may wait (about a second at cost 12); more are refused.
HASHING_SLOTS = 4 * HASHING_THREADS
BUSY = "the service is busy checking passwords; try again in a few seconds"

_hashing = concurrent.futures.ThreadPoolExecutor(
    max_workers=HASHING_THREADS, thread_name_prefix="bcrypt", initializer=_lower_priority
)

PASSWORD_CHECKS = Counter(
    "dockyard_identity_password_checks_total",
    "bcrypt password checks run (sign-ins and password changes; unknown logins check a dummy hash)",
)
HASHING_REFUSED = Counter(
    "dockyard_identity_password_hashing_refused_total",
    "bcrypt work refused at once because every hashing slot was taken",
)


class Busy(ResourceExhausted):
    """Every hashing slot is taken: nothing was hashed or checked."""

    def __init__(self) -> None:
        super().__init__(BUSY)


class _Slots:
    """Hashing work in flight, queued or running. Counted on the event loop's thread only, so a plain
    count needs no lock."""

    def __init__(self, capacity: int) -> None:
        self.free = capacity

    async def run(self, function, *args):
        if self.free == 0:
            HASHING_REFUSED.inc()
            raise Busy()
        self.free -= 1
        loop = asyncio.get_running_loop()
        work = _hashing.submit(function, *args)
        # Given back when the work is done (or cancelled before it ran), not when its caller stops
        # waiting: a caller that goes away does not free a thread that is still hashing.
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(self._give_back))
        return await asyncio.wrap_future(work)

    def _give_back(self) -> None:
        self.free += 1


_slots = _Slots(HASHING_SLOTS)


# A real hash of a random password: checking against it when no account matches makes a failed
# sign-in take as long as a wrong password for an existing account.
_DUMMY_HASH = bcrypt.hashpw(b"no account has this password, ever", bcrypt.gensalt(BCRYPT_COST))


def validate(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidArgument(field, f"must be at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_BYTES} bytes")


async def hash_password(password: str) -> str:
    """The bcrypt hash of a valid password; raises `Busy` when every hashing slot is taken."""
    validate(password)
    hashed = await _slots.run(bcrypt.hashpw, password.encode(), bcrypt.gensalt(BCRYPT_COST))
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against. Raises `Busy` (nothing
    checked) when every hashing slot is taken."""
    candidate = password.encode()[:MAX_BYTES]
    stored = password_hash.encode() if password_hash else _DUMMY_HASH
    matches = await _slots.run(bcrypt.checkpw, candidate, stored)
    PASSWORD_CHECKS.inc()
    return bool(password_hash) and matches
