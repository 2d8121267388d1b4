"""The kit's rule for a caller's effective role: the lesser of the token's role and the role the
service knows now, so a demotion applies at once and a promotion waits for a new token."""

import pytest

from dockyard_kit.access import effective_caller, effective_role
from dockyard_kit.auth import Caller


@pytest.mark.parametrize(
    ("token_role", "current_role", "expected"),
    [
        ("super_admin", "super_admin", "super_admin"),
        ("super_admin", "admin", "admin"),
        ("super_admin", "developer", "developer"),
        ("admin", "viewer", "viewer"),
        ("developer", "viewer", "viewer"),
        # promotions: the token's role stands until a new token
        ("admin", "super_admin", "admin"),
        ("developer", "admin", "developer"),
        ("viewer", "super_admin", "viewer"),
        ("viewer", "developer", "viewer"),
        # a service that has not heard of the account yet keeps the token's role
        ("admin", None, "admin"),
    ],
)
def test_the_effective_role_is_the_lesser_of_token_and_current(token_role, current_role, expected):
    assert effective_role(token_role, current_role) == expected


def test_the_effective_caller_keeps_everything_but_the_role():
    caller = Caller(
        user_id="9b2f3c1e-0000-4000-8000-000000000001",
        role="admin",
        scope="read_only",
        project_ids=frozenset({"p1"}),
        token_id="jti",
        api_token_id="t1",
    )
    demoted = effective_caller(caller, "developer")
    assert demoted.role == "developer"
    assert (demoted.user_id, demoted.scope, demoted.project_ids, demoted.token_id, demoted.api_token_id) == (
        caller.user_id,
        "read_only",
        frozenset({"p1"}),
        "jti",
        "t1",
    )
    assert effective_caller(caller, "super_admin") is caller
