"""AccessTokenVerifier's cache of verified tokens: a token verified once is not verified again while
it is fresh (no key lookup, no signature check), its expiry is still checked on every call, the
signature is checked again after VERIFIED_CACHE_SECONDS, refused tokens are never kept, and the
cache is bounded in number."""

import time

import pytest
from joserfc import jws

from dockyard_kit import auth
from dockyard_kit.auth import EXPIRED_TOKEN, VERIFIED_CACHE_SECONDS, InvalidToken
from tests.support.tokens import SIGNER, Clock, StaticKeys, verifier, with_flipped_signature


@pytest.fixture
def signature_checks(monkeypatch) -> list[str]:
    """Every token whose signature the verifier checks, in order."""
    checked: list[str] = []
    deserialize = jws.deserialize_compact

    def counting(token, *args, **kwargs):
        checked.append(token)
        return deserialize(token, *args, **kwargs)

    monkeypatch.setattr(auth.jws, "deserialize_compact", counting)
    return checked


async def refused(verify, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as raised:
        await verify(token)
    return raised.value


async def test_a_token_verified_once_is_not_looked_up_or_checked_again(signature_checks):
    keys = StaticKeys(SIGNER)
    check = verifier(keys)
    token = SIGNER.token(role="viewer")

    first = await check.verify(token)
    second = await check.verify(token)

    assert second == first and second.role == "viewer"
    assert keys.asked == [SIGNER.kid]
    assert signature_checks == [token]


async def test_a_cached_token_past_its_expiry_is_refused_as_expired():
    now = time.time()
    clock = Clock(now)
    keys = StaticKeys(SIGNER)
    check = verifier(keys, clock=clock, leeway=5)
    token = SIGNER.token(iat=int(now) - 60, exp=int(now) + 10)
    await check.verify(token)

    # Within the leeway after expiry it is still accepted, from the cache.
    clock.now = int(now) + 14
    assert (await check.verify(token)).role == "developer"

    clock.now = int(now) + 15
    error = await refused(check.verify, token)
    assert (error.reason, error.message) == ("expired", EXPIRED_TOKEN)
    assert keys.asked == [SIGNER.kid]  # refused from the cache, not by verifying it again


async def test_the_signature_is_checked_again_once_the_cache_entry_is_stale(signature_checks):
    now = time.time()
    clock = Clock(now)
    keys = StaticKeys(SIGNER)
    check = verifier(keys, clock=clock)
    token = SIGNER.token(exp=int(now) + 600)
    await check.verify(token)

    clock.now = now + VERIFIED_CACHE_SECONDS - 1
    await check.verify(token)
    assert len(signature_checks) == 1

    clock.now = now + VERIFIED_CACHE_SECONDS + 1
    await check.verify(token)
    assert len(signature_checks) == 2
    # Verified again, it is cached again.
    await check.verify(token)
    assert len(signature_checks) == 2


async def test_a_withdrawn_signing_key_stops_a_cached_token_within_the_cache_time():
    now = time.time()
    clock = Clock(now)
    keys = StaticKeys(SIGNER)
    check = verifier(keys, clock=clock)
    token = SIGNER.token(exp=int(now) + 600)
    await check.verify(token)

    keys.keys = {}  # identity no longer publishes the key
    clock.now = now + VERIFIED_CACHE_SECONDS - 1
    assert (await check.verify(token)).role == "developer"

    clock.now = now + VERIFIED_CACHE_SECONDS + 1
    assert (await refused(check.verify, token)).reason == "unknown kid"
    assert keys.asked == [SIGNER.kid, SIGNER.kid]


async def test_a_token_with_a_bad_signature_is_checked_again_every_time(signature_checks):
    keys = StaticKeys(SIGNER)
    check = verifier(keys)
    token = with_flipped_signature(SIGNER.token())

    for _ in range(2):
        assert (await refused(check.verify, token)).reason == "bad signature"

    assert keys.asked == [SIGNER.kid, SIGNER.kid]
    assert signature_checks == [token, token]


async def test_an_expired_token_is_verified_again_every_time(signature_checks):
    now = int(time.time())
    keys = StaticKeys(SIGNER)
    check = verifier(keys, leeway=0)
    token = SIGNER.token(iat=now - 600, exp=now - 60)

    for _ in range(2):
        error = await refused(check.verify, token)
        assert (error.reason, error.message) == ("expired", EXPIRED_TOKEN)

    assert keys.asked == [SIGNER.kid, SIGNER.kid]
    assert len(signature_checks) == 2


async def test_a_token_refused_for_an_unknown_kid_is_accepted_once_the_key_is_published():
    keys = StaticKeys()
    check = verifier(keys)
    token = SIGNER.token()
    assert (await refused(check.verify, token)).reason == "unknown kid"

    keys.keys = StaticKeys(SIGNER).keys
    assert (await check.verify(token)).role == "developer"


async def test_the_cache_holds_at_most_verified_cache_size_tokens(monkeypatch, signature_checks):
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    check = verifier()
    tokens = [SIGNER.token() for _ in range(5)]

    for token in tokens:
        await check.verify(token)
        assert len(check._verified) <= 3
    assert len(signature_checks) == 5

    # The three newest are kept; the oldest two were let go and are checked again.
    for token in reversed(tokens[2:]):
        await check.verify(token)
    assert len(signature_checks) == 5
    await check.verify(tokens[0])
    assert signature_checks[5:] == [tokens[0]]
