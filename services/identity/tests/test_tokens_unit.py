"""Signing-key rotation, access-token claims and API token input (pure logic, no I/O)."""

import datetime

import pytest

from dockyard_kit.errors import InvalidArgument
from services.identity.domain.api_tokens import DEFAULT_LIFETIME, MAX_LIFETIME, validate_new_token
from services.identity.domain.tokens import (
    CLOCK_LEEWAY,
    PREPUBLISH,
    SIGNING_PERIOD,
    VERIFIER_CACHE_ALLOWANCE,
    AccessGrant,
    KeyLifetime,
    access_claims,
    choose_signer,
    needs_new_key,
    new_key_lifetime,
    published_until,
)

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
TTL = datetime.timedelta(minutes=15)
DAY = datetime.timedelta(days=1)


def key(kid: str, created_at: datetime.datetime, *, can_sign: bool = True) -> KeyLifetime:
    lifetime = new_key_lifetime(kid, created_at, TTL)
    return KeyLifetime(kid, lifetime.created_at, lifetime.retired_at, lifetime.expires_at, can_sign)


def test_a_new_key_signs_for_the_signing_period_after_its_prepublication_and_stays_published_a_ttl_longer():
    lifetime = new_key_lifetime("k1", T0, TTL)
    assert lifetime.retired_at == T0 + PREPUBLISH + SIGNING_PERIOD
    assert lifetime.expires_at == lifetime.retired_at + TTL + CLOCK_LEEWAY
    assert published_until(T0, TTL) == T0 + TTL + CLOCK_LEEWAY


def test_without_keys_one_is_needed_and_a_lone_new_key_signs_at_once():
    assert needs_new_key([], T0)
    assert choose_signer([], T0) is None
    assert choose_signer([key("k1", T0)], T0).kid == "k1"


def test_the_successor_is_created_prepublish_before_the_signer_retires_and_signs_once_published_that_long():
    first = key("k1", T0)
    before_window = first.retired_at - PREPUBLISH - datetime.timedelta(seconds=1)
    assert not needs_new_key([first], before_window)
    in_window = first.retired_at - PREPUBLISH
    assert needs_new_key([first], in_window)

    successor = key("k2", in_window)
    assert not needs_new_key([first, successor], in_window)
    # Published but not yet ready: the old key keeps signing...
    assert choose_signer([first, successor], in_window + PREPUBLISH / 2).kid == "k1"
    # ...until the successor has been published for PREPUBLISH, which is when the old key retires.
    assert choose_signer([first, successor], in_window + PREPUBLISH).kid == "k2"
    assert in_window + PREPUBLISH == first.retired_at


def test_a_ready_key_signs_in_preference_to_a_newer_unready_one():
    old, new = key("old", T0), key("new", T0 + 5 * DAY)
    assert choose_signer([old, new], T0 + 5 * DAY + datetime.timedelta(hours=1)).kid == "old"


def test_with_no_key_ready_the_one_published_longest_signs():
    young, younger = key("young", T0), key("younger", T0 + datetime.timedelta(hours=1))
    assert choose_signer([younger, young], T0 + datetime.timedelta(hours=2)).kid == "young"


def test_when_the_signer_retired_before_its_successor_was_ready_the_successor_signs_at_once():
    first = key("k1", T0)
    late_successor = key("k2", first.retired_at + datetime.timedelta(minutes=1))
    assert choose_signer([first, late_successor], late_successor.created_at).kid == "k2"


def test_a_key_sealed_under_a_master_secret_no_longer_held_cannot_sign_so_a_new_one_is_needed():
    orphan = key("k1", T0, can_sign=False)
    assert choose_signer([orphan], T0 + 2 * DAY) is None
    assert needs_new_key([orphan], T0 + 2 * DAY)


def test_on_a_rotation_the_new_key_signs_once_verifiers_caches_know_it_and_the_old_one_stays_published():
    now = T0 + 3 * DAY
    retires = now + VERIFIER_CACHE_ALLOWANCE
    old = KeyLifetime("k1", T0, retires, published_until(retires, TTL))
    new = key("k2", now)

    assert choose_signer([old, new], now).kid == "k1"
    assert choose_signer([old, new], retires - datetime.timedelta(seconds=1)).kid == "k1"
    assert choose_signer([old, new], retires).kid == "k2"
    assert old.expires_at == retires + TTL + CLOCK_LEEWAY
    assert not needs_new_key([old, new], now) and not needs_new_key([old, new], retires)


def test_access_claims_follow_the_kit_contract():
    grant = AccessGrant(user_id="u1", role="developer")
    claims = access_claims(grant, issuer="dockyard", audience="api", issued_at=1000, ttl_seconds=900)
    assert claims.pop("jti")
    assert claims == {
        "iss": "dockyard",
        "aud": "api",
        "sub": "u1",
        "role": "developer",
        "scope": "read_write",
        "iat": 1000,
        "exp": 1900,
    }


def test_api_token_claims_carry_scope_projects_and_token_id():
    grant = AccessGrant(
        user_id="u1", role="viewer", scope="read_only", project_ids=("p1", "p2"), api_token_id="t1"
    )
    claims = access_claims(grant, issuer="i", audience="a", issued_at=0, ttl_seconds=60)
    assert (claims["scope"], claims["projects"], claims["api_token_id"]) == ("read_only", ["p1", "p2"], "t1")


def test_every_access_token_gets_its_own_jti():
    grant = AccessGrant(user_id="u1", role="developer")
    jtis = {
        access_claims(grant, issuer="i", audience="a", issued_at=0, ttl_seconds=60)["jti"] for _ in range(5)
    }
    assert len(jtis) == 5


PROJECT = "7b0b5e1e-9f33-4a7e-9a3c-1f1f0c6a2d11"


def test_a_new_api_token_defaults_to_read_only_for_ninety_days():
    new = validate_new_token(name=" ci ", scope="", project_ids=[PROJECT, PROJECT], expires_at=None, now=T0)
    assert (new.name, new.scope, len(new.project_ids), new.expires_at) == (
        "ci",
        "read_only",
        1,
        T0 + DEFAULT_LIFETIME,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "token.name"),
        ({"name": "x" * 101}, "token.name"),
        ({"scope": "admin"}, "token.scope"),
        ({"project_ids": ["not-a-uuid"]}, "token.project_ids"),
        ({"expires_at": T0}, "token.expires_at"),
        ({"expires_at": T0 - DAY}, "token.expires_at"),
        ({"expires_at": T0 + MAX_LIFETIME + datetime.timedelta(seconds=1)}, "token.expires_at"),
    ],
)
def test_bad_api_token_input_names_its_field(changes, field):
    values = {
        "name": "ci",
        "scope": "read_write",
        "project_ids": [],
        "expires_at": None,
        "now": T0,
        **changes,
    }
    with pytest.raises(InvalidArgument) as raised:
        validate_new_token(**values)
    assert raised.value.field == field
