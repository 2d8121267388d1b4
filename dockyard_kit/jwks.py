"""Identity's public signing keys (its JWKS), fetched over gRPC and cached for token verification.

`JwksCache.key(kid)` answers from memory. It fetches the key set when it has none, when the set is
older than `max_age` (so retired keys drop out), and when a token names a kid the set lacks (identity
has rotated its key) - but never more than once per `min_refetch_interval`, so tokens with made-up
kids cannot make a service hammer identity. When a fetch fails, the keys already held stay in use.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc

log = logging.getLogger("dockyard.auth")

# How long one fetch may take; a token check waits for it.
FETCH_TIMEOUT_SECONDS = 2.0
# Refetch at least this often, so a key identity stopped publishing stops verifying.
MAX_AGE_SECONDS = 60.0
# Fetch at most this often, whatever tokens arrive.
MIN_REFETCH_INTERVAL_SECONDS = 2.0

# Returns the JWKS document (JSON bytes).
JwksFetcher = Callable[[], Awaitable[bytes]]


class JwksUnavailable(Exception):
    """The key set could not be fetched, so a token's signature cannot be judged either way."""


def parse_key_set(document: bytes) -> dict[str, ECKey]:
    """The ES256 verification keys of a JWKS document, by kid. Keys of any other type, curve, use or
    algorithm are left out (a token naming them is then refused as having an unknown kid); only the
    public parameters are imported, whatever else a key carries."""
    try:
        keys = json.loads(document)["keys"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a JWKS document: {exc}") from None
    if not isinstance(keys, list):
        raise ValueError("not a JWKS document: keys is not a list")
    found = {}
    for jwk in keys:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
            continue
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
            continue
        public = {name: jwk.get(name) for name in ("kty", "crv", "x", "y")}
        try:
            found[jwk["kid"]] = ECKey.import_key(public)
        except (JoseError, ValueError, TypeError):
            log.warning("JWKS key ignored: not a valid P-256 public key", extra={"kid": jwk["kid"]})
    return found


class IdentityJwks:
    """Fetches the JWKS from identity's AuthService/GetJwks (identity calls itself the same way)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel: grpc.aio.Channel | None = None

    async def __call__(self) -> bytes:
        # Created on first use: a grpc.aio channel belongs to the event loop it is created in.
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        stub = identity_pb2_grpc.AuthServiceStub(self._channel)
        body = await stub.GetJwks(identity_pb2.GetJwksRequest(), timeout=FETCH_TIMEOUT_SECONDS)
        return body.data

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


class JwksCache:
    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        max_age: float = MAX_AGE_SECONDS,
        min_refetch_interval: float = MIN_REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.max_age = max_age
        self.min_refetch_interval = min_refetch_interval
        self.clock = clock
        self.fetches = 0  # attempts, successful or not
        self._keys: dict[str, ECKey] | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._last_attempt_failed = False
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> ECKey | None:
        """The key for `kid`, or None when identity does not publish it. Raises JwksUnavailable when
        the current key set cannot be known (never fetched, or the fetch that should settle this
        kid failed): a good token must not be called invalid because identity is unreachable."""
        if self._keys is None or self.clock() - self._fetched_at >= self.max_age:
            await self._refresh()
        if self._keys is None:
            raise JwksUnavailable("the signing keys could not be fetched")
        key = self._keys.get(kid)
        if key is None:
            await self._refresh()
            key = self._keys.get(kid)
            if key is None and self._last_attempt_failed:
                raise JwksUnavailable("the signing keys could not be refreshed")
        return key

    async def _refresh(self) -> None:
        """One fetch at a time, and none within min_refetch_interval of the last one: callers that
        queue up behind a fetch use its result."""
        async with self._lock:
            now = self.clock()
            if now - self._attempted_at < self.min_refetch_interval:
                return
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = parse_key_set(await self.fetch())
            except (grpc.RpcError, OSError, TimeoutError, ValueError) as exc:
                self._last_attempt_failed = True
                log.warning(
                    "cannot fetch the signing keys (JWKS)",
                    extra={"error": _describe(exc), "keys_held": len(self._keys or ())},
                )
                return
            self._keys = keys
            self._fetched_at = now
            self._last_attempt_failed = False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"
