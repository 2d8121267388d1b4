"""Who a request came from: a service believes X-Forwarded-For only from the gateway, which proves it
with its credential (DOCKYARD_GATEWAY_SECRET) and sets that header itself. Shown on the whole stack
by the client address a failed sign-in's event records (the audit trail's and the per-address
throttle's address), for forged headers sent through Envoy and straight to identity."""

import http.client
import json
import uuid

import grpc

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.config import GATEWAY_CREDENTIAL_HEADER
from tests.support.calls import TIMEOUT
from tests.support.database import admin_database

FORGED_ADDRESS = "203.0.113.9"
FORGED_HEADERS = {
    "x-forwarded-for": f"{FORGED_ADDRESS}, 198.51.100.7",
    GATEWAY_CREDENTIAL_HEADER: "f" * 64,
}


async def recorded_client_ip(stack, request_id: str) -> str:
    """The client address in the login_failed event of the request `request_id` (the event is written
    in the sign-in's own transaction, so it is there once the call has answered)."""
    async with admin_database(stack) as pool:
        rows = await pool.fetch(
            "SELECT envelope FROM outbox WHERE subject LIKE 'dockyard.identity.auth.login_%'"
        )
    events = [Event.FromString(row["envelope"]) for row in rows]
    [event] = [event for event in events if event.request.request_id == request_id]
    return event.request.client_ip


def wrong_password_through_the_gateway(stack, source: str, headers: dict[str, str]) -> str:
    """A sign-in with a wrong password, over HTTP from the loopback address `source`; its request id."""
    request_id = str(uuid.uuid4())
    connection = http.client.HTTPConnection(
        "127.0.0.1", stack.port, timeout=TIMEOUT, source_address=(source, 0)
    )
    try:
        body = json.dumps({"username": f"nobody-{request_id[:8]}", "password": "wrong password"})
        connection.request(
            "POST",
            "/v1/auth/login",
            body=body,
            headers={"content-type": "application/json", "x-request-id": request_id, **headers},
        )
        assert connection.getresponse().status == 401
    finally:
        connection.close()
    return request_id


async def test_a_forged_forwarded_for_through_the_gateway_is_replaced_by_the_real_address(stack):
    # Envoy listens on 127.0.0.1; this client connects from 127.0.0.5, so the address recorded can
    # only come from the X-Forwarded-For Envoy set (identity's peer is Envoy, on 127.0.0.1).
    request_id = wrong_password_through_the_gateway(stack, "127.0.0.5", FORGED_HEADERS)
    assert await recorded_client_ip(stack, request_id) == "127.0.0.5"


async def test_a_forged_forwarded_for_straight_to_a_service_is_ignored(stack):
    request_id = str(uuid.uuid4())
    with grpc.insecure_channel(stack.addresses["identity"]) as channel:
        try:
            identity_pb2_grpc.AuthServiceStub(channel).Login(
                identity_pb2.LoginRequest(username=f"nobody-{request_id[:8]}", password="wrong password"),
                metadata=(("x-request-id", request_id), *FORGED_HEADERS.items()),
                timeout=TIMEOUT,
            )
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        else:
            raise AssertionError("a wrong password signed in")
    # The caller's own address (the peer), not the one it claimed.
    assert await recorded_client_ip(stack, request_id) == "127.0.0.1"


async def test_the_gateways_credential_never_reaches_a_client(stack):
    """The credential is a request header Envoy adds: it is not echoed, and its file is private."""
    secret = (stack.data_dir / "gateway.secret").read_text().strip()
    assert len(secret) >= 32
    assert oct((stack.data_dir / "gateway.secret").stat().st_mode & 0o777) == "0o600"
    assert oct((stack.data_dir / "gateway" / "envoy.yaml").stat().st_mode & 0o777) == "0o600"
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/v1/system/status")
        response = connection.getresponse()
        raw = response.read()
        assert secret not in raw.decode() and all(secret not in v for _, v in response.getheaders())
    finally:
        connection.close()
