"""Slowing down and refusing password guessers (pure logic, no I/O)."""

import datetime

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
    after_failure,
    current,
    delay_seconds,
    keys_for,
    verdict,
)

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)


def failures(count: int, limits=ACCOUNT_LIMITS, start: datetime.datetime = T0) -> Counter:
    counter = Counter()
    for _ in range(count):
        counter = after_failure(counter, limits, start)
    return counter


def test_accounts_are_counted_by_login_name_in_any_case_and_addresses_only_when_known():
    assert keys_for("  Alice@Example.COM ", "192.0.2.1") == {
        account_key("alice@example.com"): ACCOUNT_LIMITS,
        address_key("192.0.2.1"): ADDRESS_LIMITS,
    }
    assert keys_for("alice", "") == {account_key("alice"): ACCOUNT_LIMITS}


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
    assert after_failure(counter, ACCOUNT_LIMITS, T0 + FAILURE_WINDOW).failures == 1


def test_the_verdict_takes_the_strictest_of_account_and_address():
    keys = keys_for("alice", "192.0.2.1")
    address = failures(12, ADDRESS_LIMITS)
    quiet_account = failures(1)
    answer = verdict({account_key("alice"): quiet_account, address_key("192.0.2.1"): address}, keys, T0)
    assert answer.locked_until is None
    assert answer.delay_seconds == delay_seconds(address, ADDRESS_LIMITS, T0) > 0

    locked_address = failures(ADDRESS_LIMITS.lock_after, ADDRESS_LIMITS)
    answer = verdict({address_key("192.0.2.1"): locked_address}, keys, T0)
    assert answer.locked_until == T0 + LOCKOUT


def test_no_counters_no_limits():
    assert verdict({}, keys_for("alice", "192.0.2.1"), T0).delay_seconds == 0.0
