"""Passwords: bcrypt at cost 12 (seed), hashed and checked off the event loop (bcrypt is slow on
purpose, and would otherwise stall every other request of the process).

bcrypt runs in a pool of its own whose threads lower their scheduling priority: with 50 sign-ins in
flight on two cores, the event loop thread must still win the CPU, or every other request of the
process (GET /v1/users/me, say) waits behind password hashing.
"""

import asyncio
import concurrent.futures
import os

import bcrypt

from dockyard_kit.errors import InvalidArgument

BCRYPT_COST = 12
MIN_LENGTH = 12
# bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
MAX_BYTES = 72

# Niceness of the hashing threads: above the event loop's, so sign-ins yield to everything else.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux, setpriority with who=0 applies to the calling thread only.
    os.setpriority(os.PRIO_PROCESS, 0, HASHING_NICENESS)


_hashing = concurrent.futures.ThreadPoolExecutor(
    max_workers=os.cpu_count() or 2, thread_name_prefix="bcrypt", initializer=_lower_priority
)


async def _in_hashing_pool(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


# A real hash of a random password: checking against it when no account matches makes a failed
# sign-in take as long as a wrong password for an existing account.
_DUMMY_HASH = bcrypt.hashpw(b"no account has this password, ever", bcrypt.gensalt(BCRYPT_COST))


def validate(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidArgument(field, f"must be at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_BYTES} bytes")


async def hash_password(password: str) -> str:
    validate(password)
    hashed = await _in_hashing_pool(bcrypt.hashpw, password.encode(), bcrypt.gensalt(BCRYPT_COST))
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against."""
    candidate = password.encode()[:MAX_BYTES]
    if not password_hash:
        await _in_hashing_pool(bcrypt.checkpw, candidate, _DUMMY_HASH)
        return False
    return await _in_hashing_pool(bcrypt.checkpw, candidate, password_hash.encode())
