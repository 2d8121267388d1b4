"""The authorization matrix of the identity API (tests/identity/matrix.py, run by the harness of
tests/support/authorization.py): every UserService, TeamService and ApiTokenService RPC for every
kind of caller, straight to identity and through the gateway. AuthService is public by contract
(every RPC `(dockyard.api.v1.public)`); what an attacker tries on it is in test_token_attacks.py."""

import pytest

from dockyard.identity.v1 import identity_pb2
from tests.identity.matrix import CASES
from tests.support import authorization

channel = authorization.routed_channel("identity_channel")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_rpc_for_every_caller(people, channel, case):
    """Callers expected to succeed at a change act on a fresh target each; the others on one that
    nothing may change (the bystander, crew)."""
    assert authorization.outcomes(case, people, channel) == dict(case.expected)


def test_the_tables_cover_every_rpc_of_the_identity_api():
    authorization.assert_covers(CASES, identity_pb2)
