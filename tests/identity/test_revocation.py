"""Disabling or deleting a user stops their still-unexpired access token everywhere within 2 seconds
(issue 3, "Authentication everywhere"), measured from the moment the admin's call is sent until each
place refuses it with the kit's deny-list answer ("this account is disabled"):

  - identity called directly, in the stack's process and in a second identity replica;
  - the gateway, over gRPC and HTTP (Envoy passes the token; identity behind it refuses);
  - another service, projects, called directly (ProjectService/ListProjects) in the stack's process
    and in a second projects replica. The projects replicas share one event consumer, so either may
    have written the row the other only reloads.

Identity also refuses such a caller from its own users table at once; waiting for the deny-list's
answer measures the path every other service depends on.
"""

import asyncio
import functools
import time

import grpc
import pytest

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit.auth import REVOKED_USER
from tests.support.accounts import Account, create_account, login, setup_admin
from tests.support.calls import TIMEOUT, bearer, rest
from tests.support.replicas import second_replicas

WITHIN_SECONDS = 2.0
POLL_SECONDS = 0.02


@pytest.fixture(scope="module")
def replicas(stack):
    """A second identity and a second projects process beside the stack's."""
    with second_replicas(stack) as replicas:
        yield replicas


@pytest.fixture(scope="module")
def root(identity_channel) -> Account:
    return Account(setup_admin(identity_channel, "root"), login(identity_channel, "root"))


class Places:
    """Everywhere the token is judged, each as a check that says whether it is refused now."""

    def __init__(self, stack, replicas) -> None:
        self.stack = stack
        self.channels = {
            "identity": grpc.aio.insecure_channel(stack.addresses["identity"]),
            "identity replica": grpc.aio.insecure_channel(replicas["identity"].address),
            "gateway (gRPC)": grpc.aio.insecure_channel(f"127.0.0.1:{stack.port}"),
            "projects": grpc.aio.insecure_channel(stack.addresses["projects"]),
            "projects replica": grpc.aio.insecure_channel(replicas["projects"].address),
        }

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def grpc_answer(self, place: str, token: str) -> tuple[grpc.StatusCode, str]:
        """Identity's GetCurrentUser, or projects' ListProjects at a projects place."""
        channel = self.channels[place]
        if place.startswith("projects"):
            call = projects_pb2_grpc.ProjectServiceStub(channel).ListProjects(
                projects_pb2.ListProjectsRequest(), metadata=bearer(token), timeout=5
            )
        else:
            call = identity_pb2_grpc.UserServiceStub(channel).GetCurrentUser(
                identity_pb2.GetCurrentUserRequest(), metadata=bearer(token), timeout=5
            )
        try:
            await call
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details()
        return grpc.StatusCode.OK, ""

    async def http_refuses(self, token: str) -> bool:
        status, body = await asyncio.to_thread(rest, self.stack.port, "GET", "/v1/users/me", None, token)
        return (status, body.get("code"), body.get("message")) == (401, 16, REVOKED_USER)

    def refusals(self, token: str) -> dict:
        """Checks that the token is refused, at each place."""

        async def grpc_refuses(place: str) -> bool:
            return await self.grpc_answer(place, token) == (grpc.StatusCode.UNAUTHENTICATED, REVOKED_USER)

        checks = {place: functools.partial(grpc_refuses, place) for place in self.channels}
        checks["gateway (HTTP)"] = functools.partial(self.http_refuses, token)
        return checks

    def acceptances(self, token: str) -> dict:
        """Checks that the token is accepted, at each gRPC place."""

        async def grpc_accepts(place: str) -> bool:
            return (await self.grpc_answer(place, token))[0] == grpc.StatusCode.OK

        return {place: functools.partial(grpc_accepts, place) for place in self.channels}


async def delays_until(checks: dict, started: float) -> dict[str, float]:
    """Polls every check at once until each holds; how long after `started` each first did."""

    async def measure(check) -> float:
        while not await check():
            if time.monotonic() - started > 10 * WITHIN_SECONDS:
                return float("inf")
            await asyncio.sleep(POLL_SECONDS)
        return time.monotonic() - started

    delays = await asyncio.gather(*(measure(check) for check in checks.values()))
    return dict(zip(checks, delays, strict=True))


async def as_root(identity_channel, root: Account, method: str, request) -> None:
    """UserService/<method> by the super_admin, off the event loop."""
    rpc = getattr(identity_pb2_grpc.UserServiceStub(identity_channel), method)
    await asyncio.to_thread(rpc, request, metadata=root.metadata, timeout=TIMEOUT)


def report(what: str, delays: dict[str, float]) -> None:
    print(f"\n{what}: " + ", ".join(f"{place} {delay * 1000:.0f} ms" for place, delay in delays.items()))


@pytest.fixture
async def places(stack, replicas):
    places = Places(stack, replicas)
    yield places
    await places.close()


async def test_a_disabled_users_token_is_refused_everywhere_within_2_seconds(identity_channel, root, places):
    user = create_account(identity_channel, root, "disabled-soon", "developer")
    checks = places.refusals(user.token)
    assert all([await accepts() for accepts in places.acceptances(user.token).values()])

    started = time.monotonic()
    await as_root(identity_channel, root, "DisableUser", identity_pb2.DisableUserRequest(user_id=user.id))
    delays = await delays_until(checks, started)

    report("disabled user refused", delays)
    assert all(delay < WITHIN_SECONDS for delay in delays.values()), delays

    # Enabled again, the same token works again (it has not expired).
    started = time.monotonic()
    await as_root(identity_channel, root, "EnableUser", identity_pb2.EnableUserRequest(user_id=user.id))
    accepted = await delays_until(places.acceptances(user.token), started)
    report("re-enabled user accepted", accepted)
    assert all(delay < WITHIN_SECONDS for delay in accepted.values()), accepted


async def test_a_deleted_users_token_is_refused_everywhere_within_2_seconds(identity_channel, root, places):
    user = create_account(identity_channel, root, "deleted-soon", "developer")
    checks = places.refusals(user.token)
    assert all([await accepts() for accepts in places.acceptances(user.token).values()])

    started = time.monotonic()
    await as_root(identity_channel, root, "DeleteUser", identity_pb2.DeleteUserRequest(user_id=user.id))
    delays = await delays_until(checks, started)

    report("deleted user refused", delays)
    assert all(delay < WITHIN_SECONDS for delay in delays.values()), delays
