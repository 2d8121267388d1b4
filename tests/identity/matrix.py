"""Identity's authorization tables: every kind of caller of tests/support/accounts.py `People`."""

import grpc

from tests.support.accounts import People
from tests.support.calls import DENIED, UNAUTHENTICATED, code_of

CALLERS = (
    "super_admin",
    "admin",
    "developer",
    "viewer",
    "owner",
    "member",
    "unrelated",
    "anonymous",
    "read_only_admin",
    "project_limited_admin",
)


def expect(*, admins: grpc.StatusCode, others: grpc.StatusCode = DENIED, **by_caller) -> dict:
    """Expected codes by caller: `admins` for super_admin and admin, `others` for developer, viewer
    and the unrelated user, UNAUTHENTICATED for anonymous; PERMISSION_DENIED unless `by_caller`
    names another code for a caller."""
    codes = dict.fromkeys(CALLERS, DENIED)
    codes.update(super_admin=admins, admin=admins, developer=others, viewer=others, unrelated=others)
    codes.update(anonymous=UNAUTHENTICATED, **by_caller)
    return codes


def outcomes(people: People, method, request_for, target_for, expected: dict) -> dict:
    """Calls `method` once as each caller of `expected`, with `request_for(people, target)` where
    `target_for(expected code)` picks the target: the codes each caller got."""
    return {
        name: code_of(method, request_for(people, target_for(code)), getattr(people, name).metadata)
        for name, code in expected.items()
    }
