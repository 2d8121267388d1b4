"""The authorization-matrix harness of the identity and projects tests.

A table is a list of `Case`s: an RPC, the status code each kind of caller expects, and how to make
the call as a caller. A test runs every case as every caller, straight to the service and through
the gateway (`routed_channel`), and `assert_covers` checks the table against the contract: every
RPC a caller can reach (the service's own, not internal ones, public RPCs aside) has a row, and
every row names such an RPC, so a new RPC cannot go untested. Each area has its own table and its
own kinds of caller (`world` is whatever the area's table calls with: its people, its cast)."""

import dataclasses
from collections.abc import Callable, Mapping

import grpc
import pytest

from dockyard.api.v1 import options_pb2
from tests.support.calls import code_of

ROUTES = ("direct", "gateway")


@dataclasses.dataclass(frozen=True)
class Case:
    """One row: the RPC (`stub`, the generated stub class, names the service), the code each caller
    expects, and `call(world, caller)`: the request and the caller's credentials (a destructive call
    makes a fresh target each time). `variant` tells apart two rows of one RPC.

    A write may carry `effect(world, caller, request)`: whether the change the request asks for
    happened, read back after the call (SQL or a Get as someone who may see it). The change must
    have happened exactly when the call succeeded: a refused call that changed something anyway, or
    a success that changed nothing, shows in `outcomes`."""

    stub: type
    method: str
    expected: Mapping[str, grpc.StatusCode]
    call: Callable[[object, str], tuple[object, tuple]]
    variant: str = ""
    effect: Callable[[object, str, object], bool] | None = None

    @property
    def rpc(self) -> str:
        return f"{self.stub.__name__.removesuffix('Stub')}/{self.method}"

    @property
    def id(self) -> str:
        return f"{self.method}({self.variant})" if self.variant else self.method


def outcomes(case: Case, world, channel) -> dict[str, grpc.StatusCode | str]:
    """The code each caller of `case.expected` gets, in that order, calling over `channel`; for a
    row with an `effect` check, a code the change contradicts becomes a description saying so (so
    the result equals `case.expected` only when every code is right and every effect matches)."""
    method = getattr(case.stub(channel), case.method)
    return {caller: outcome(case, world, method, caller) for caller in case.expected}


def outcome(case: Case, world, method, caller: str) -> grpc.StatusCode | str:
    request, metadata = case.call(world, caller)
    code = code_of(method, request, metadata)
    if case.effect is None:
        return code
    changed = case.effect(world, caller, request)
    if changed == (code == grpc.StatusCode.OK):
        return code
    return f"{code.name}, but {'the change happened' if changed else 'nothing changed'}"


def routed_channel(direct: str):
    """A module fixture `channel` run once per route: the `direct` channel fixture (straight to the
    service) and `gateway_channel` (through Envoy)."""

    @pytest.fixture(scope="module", params=ROUTES)
    def channel(request):
        return request.getfixturevalue(direct if request.param == "direct" else "gateway_channel")

    return channel


def rpcs_to_cover(*files) -> set[str]:
    """ "Service/Method" for every RPC of the contract files (generated `_pb2` modules) that needs a
    caller: internal services (service credentials, not users) and public RPCs (no caller) aside."""
    return {
        f"{service.name}/{method.name}"
        for file in files
        for service in file.DESCRIPTOR.services_by_name.values()
        if not service.GetOptions().Extensions[options_pb2.internal]
        for method in service.methods
        if not method.GetOptions().Extensions[options_pb2.public]
    }


def assert_covers(cases: list[Case], *files) -> None:
    """Every RPC of the contract files that needs a caller has a row, and every row is such an RPC."""
    covered = {case.rpc for case in cases}
    contract = rpcs_to_cover(*files)
    assert not contract - covered, (
        f"RPCs without a row in the authorization table: {sorted(contract - covered)}"
    )
    assert not covered - contract, f"rows for RPCs the contract does not have: {sorted(covered - contract)}"
