"""Slowing down and refusing password guessers, and the digest that names a login matching no
account (pure logic, no I/O)."""

import datetime
import uuid

from services.identity.domain.sessions import login_digest, login_digest_key
from services.identity.domain.throttle import (
    ACCOUNT_LIMITS,
    ADDRESS_LIMITS,
    DELAY_STEP_SECONDS,
    FAILURE_WINDOW,
    LOCKOUT,
    MAX_DELAY_SECONDS,
    Counter,
    account_key,
    address_key,
    after_confirmed_failure,
    after_release,
    after_reservation,
    current,
    delay_seconds,
    keys_for,
    login_key,
    verdict,
)

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)


def failed(counter: Counter, limits=ACCOUNT_LIMITS, now: datetime.datetime = T0) -> Counter:
    """One attempt reserved, then its password found wrong."""
    return after_confirmed_failure(after_reservation(counter, now), limits, now)


def failures(count: int, limits=ACCOUNT_LIMITS, start: datetime.datetime = T0) -> Counter:
    counter = Counter()
    for _ in range(count):
        counter = failed(counter, limits, start)
    return counter


def test_an_attempt_counts_against_its_account_and_its_address_only_when_known():
    user_id = uuid.uuid4()
    assert account_key(user_id) == f"account:{user_id}"
    assert keys_for(account_key(user_id), "192.0.2.1") == {
        account_key(user_id): ACCOUNT_LIMITS,
        address_key("192.0.2.1"): ADDRESS_LIMITS,
    }
    assert keys_for(login_key("d1"), "") == {"login:d1": ACCOUNT_LIMITS}


def test_a_login_matching_no_account_is_named_by_a_keyed_digest_the_same_in_any_case():
    key = login_digest_key(b"m" * 32)
    digest = login_digest(key, "  Alice@Example.COM ")
    assert digest == login_digest(key, "alice@example.com")
    assert len(digest) == 64 and "alice" not in digest
    assert digest != login_digest(key, "alice@example.org")
    # Keyed: another master secret gives another digest, and the key is not the secret itself.
    assert digest != login_digest(login_digest_key(b"n" * 32), "alice@example.com")
    assert key != b"m" * 32


def test_no_delay_for_the_first_failures_then_a_growing_one_up_to_the_maximum():
    assert [delay_seconds(failures(n), ACCOUNT_LIMITS, T0) for n in range(ACCOUNT_LIMITS.delay_after)] == [
        0.0
    ] * 3
    assert delay_seconds(failures(3), ACCOUNT_LIMITS, T0) == DELAY_STEP_SECONDS
    assert delay_seconds(failures(4), ACCOUNT_LIMITS, T0) == 2 * DELAY_STEP_SECONDS
    assert delay_seconds(failures(19, ADDRESS_LIMITS), ADDRESS_LIMITS, T0) == MAX_DELAY_SECONDS


def test_the_lock_comes_with_the_limit_th_failure_and_lasts_the_lockout():
    assert failures(ACCOUNT_LIMITS.lock_after - 1).locked_until is None
    locked = failures(ACCOUNT_LIMITS.lock_after)
    assert locked.locked_until == T0 + LOCKOUT
    assert current(locked, T0 + LOCKOUT - SECOND).locked_until == T0 + LOCKOUT
    # Once the lock ends, counting starts afresh.
    assert current(locked, T0 + LOCKOUT) == Counter()


def test_failures_older_than_the_window_are_forgotten():
    counter = failures(4)
    assert current(counter, T0 + FAILURE_WINDOW - SECOND).failures == 4
    assert current(counter, T0 + FAILURE_WINDOW) == Counter()
    assert failed(counter, ACCOUNT_LIMITS, T0 + FAILURE_WINDOW).failures == 1


def test_giving_an_attempt_back_uncounts_it_and_lifts_the_lock_it_brought():
    locked = failures(ACCOUNT_LIMITS.lock_after)
    released = after_release(locked, ACCOUNT_LIMITS, T0)
    assert released.failures == ACCOUNT_LIMITS.lock_after - 1 and released.locked_until is None
    assert released.window_started_at == T0
    # A lock that more failures than the limit brought stays.
    beyond = failed(locked, ACCOUNT_LIMITS, T0 + SECOND)
    assert after_release(beyond, ACCOUNT_LIMITS, T0 + SECOND).locked_until == beyond.locked_until
    # The last attempt given back leaves nothing counted; so does one given back after the window.
    assert after_release(failures(1), ACCOUNT_LIMITS, T0) == Counter()
    assert after_release(failures(3), ACCOUNT_LIMITS, T0 + FAILURE_WINDOW) == Counter()


def test_the_verdict_takes_the_strictest_of_account_and_address():
    alice = account_key(uuid.uuid4())
    keys = keys_for(alice, "192.0.2.1")
    address = failures(12, ADDRESS_LIMITS)
    quiet_account = failures(1)
    answer = verdict({alice: quiet_account, address_key("192.0.2.1"): address}, keys, T0)
    assert answer.locked_until is None
    assert answer.delay_seconds == delay_seconds(address, ADDRESS_LIMITS, T0) > 0

    locked_address = failures(ADDRESS_LIMITS.lock_after, ADDRESS_LIMITS)
    answer = verdict({address_key("192.0.2.1"): locked_address}, keys, T0)
    assert answer.locked_until == T0 + LOCKOUT


def test_attempts_in_flight_saturate_the_limit_but_only_wrong_passwords_lock():
    alice = account_key(uuid.uuid4())
    keys = keys_for(alice, "")
    in_flight = Counter()
    for _ in range(ACCOUNT_LIMITS.lock_after):
        assert not verdict({alice: in_flight}, keys, T0).saturated
        in_flight = after_reservation(in_flight, T0)
    # As many attempts as the limit are being checked: the next is refused, nothing is locked.
    answer = verdict({alice: in_flight}, keys, T0)
    assert answer.saturated and answer.locked_until is None
    # A wrong password among them locks; a right one clears the account (see sessions.login).
    assert after_confirmed_failure(in_flight, ACCOUNT_LIMITS, T0).locked_until == T0 + LOCKOUT
    assert after_confirmed_failure(after_reservation(Counter(), T0), ACCOUNT_LIMITS, T0).locked_until is None


def test_no_counters_no_limits():
    assert verdict({}, keys_for(login_key("d1"), "192.0.2.1"), T0).delay_seconds == 0.0
