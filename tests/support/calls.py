"""Calls to the running platform and what they return: gRPC status codes, the field a bad request
names, an event's payload, and HTTP/JSON requests through the gateway."""

import http.client
import json

import grpc
from google.rpc import error_details_pb2, status_pb2

from dockyard.events.v1.envelope_pb2 import Event

TIMEOUT = 30

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
INVALID = grpc.StatusCode.INVALID_ARGUMENT

USER_AGENT = "dockyard-tests/1.0"


def bearer(token: str) -> tuple:
    """gRPC metadata carrying an access token (none for an empty one)."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def code_of(method, request, metadata=()) -> grpc.StatusCode:
    """The status code of one call: OK, or the error's code."""
    try:
        method(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def rpc_error(method, request, metadata=()) -> grpc.RpcError:
    try:
        method(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{request} succeeded")


def field_of(error: grpc.RpcError) -> str:
    """The field a google.rpc.BadRequest detail names ("" when there is none)."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad_request = error_details_pb2.BadRequest()
                if detail.Unpack(bad_request):
                    return ",".join(violation.field for violation in bad_request.field_violations)
    return ""


def payload(event: Event, message_type):
    """An event's payload as `message_type` (the test fails if it is another type)."""
    message = message_type()
    assert event.payload.Unpack(message), event.payload.type_url
    return message


def rest(port: int, method: str, path: str, body=None, token: str = "", *, source: str = "127.0.0.1"):
    """An HTTP/JSON request to the gateway from the loopback address `source` (so per-address
    throttling stays per test): (status, the JSON body, {} for an empty one, or the raw bytes of
    another)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT, source_address=(source, 0))
    try:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        encoded = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=encoded, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        if not raw:
            return response.status, {}
        is_json = "json" in response.getheader("content-type", "")
        return response.status, json.loads(raw) if is_json else raw
    finally:
        connection.close()


def call(stack, method: str, path: str, body=None, *, source: str = "127.0.0.1", token: str = ""):
    """`rest` to the stack's gateway."""
    return rest(stack.port, method, path, body, token, source=source)
