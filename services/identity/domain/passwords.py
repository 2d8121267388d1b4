"""Passwords: bcrypt at cost 12 (seed), hashed and checked off the event loop (bcrypt is slow on
purpose, and would otherwise stall every other request of the process)."""

import asyncio

import bcrypt

from dockyard_kit.errors import InvalidArgument

BCRYPT_COST = 12
MIN_LENGTH = 12
# bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
MAX_BYTES = 72

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
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(BCRYPT_COST))
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against."""
    candidate = password.encode()[:MAX_BYTES]
    if not password_hash:
        await asyncio.to_thread(bcrypt.checkpw, candidate, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(bcrypt.checkpw, candidate, password_hash.encode())
