"""The generated configuration in a real Envoy, in front of a real gRPC backend (see conftest.py)."""

import asyncio
import datetime
import json
import select
import socket
import time

import grpc
from google.rpc import status_pb2

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit.config import GATEWAY_CREDENTIAL_HEADER
from tests.gateway.support import (
    CHECKED_AT,
    FAIL_HEADER,
    GATEWAY_SECRET,
    MAX_REQUEST_BYTES,
    SIGNER,
    bearer,
    invalid_name_status,
)

JSON = {"content-type": "application/json"}


async def test_http_json_has_proto_field_names_false_booleans_and_rfc3339_times(gateway):
    response = await gateway.request("GET", "/v1/system/status")

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["database"] == {
        "configured": True,
        "initialized": False,
        "dialect": "postgresql",
        "server_version": "",
        "schemas": [],
        "error": "",
    }
    assert body["nats"]["connected"] is False
    assert body["services"] == [{"name": "identity", "status": "SERVING"}]
    assert body["checked_at"] == "2026-11-23T08:00:00.123Z"
    assert datetime.datetime.fromisoformat(body["checked_at"]) == CHECKED_AT


async def test_grpc_clients_use_the_same_port(gateway):
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        answer = await stub.GetSystemStatus(system_pb2.GetSystemStatusRequest(), timeout=5)
        assert answer.checked_at.ToDatetime(tzinfo=datetime.UTC) == CHECKED_AT
        assert answer.database.dialect == "postgresql"

        # Error details travel untouched to gRPC clients.
        call = stub.GetSystemStatus(
            system_pb2.GetSystemStatusRequest(), metadata=((FAIL_HEADER, "invalid_argument"),), timeout=5
        )
        try:
            await call
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            details = dict(error.trailing_metadata())["grpc-status-details-bin"]
            assert status_pb2.Status.FromString(details) == invalid_name_status()
        else:
            raise AssertionError("the call should have failed")


async def test_service_errors_become_http_statuses_with_json_bodies(gateway):
    not_found = await gateway.request("GET", "/v1/system/status", headers={FAIL_HEADER: "not_found"})
    assert not_found.status == 404
    assert not_found.headers["content-type"] == "application/json"
    assert not_found.json() == {"code": 5, "message": "status page 7 not found", "details": []}

    invalid = await gateway.request("GET", "/v1/system/status", headers={FAIL_HEADER: "invalid_argument"})
    assert invalid.status == 400
    assert invalid.json() == {
        "code": 3,
        "message": "name: must be 3-20 characters",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "field_violations": [
                    {"field": "name", "description": "must be 3-20 characters", "reason": ""}
                ],
            }
        ],
    }


async def test_unknown_paths_are_json_404s(gateway):
    for method, path in [
        ("GET", "/nope?token=secret"),
        ("POST", "/v1/system/status"),
        ("GET", "/v1/fixture/internal"),
    ]:
        response = await gateway.request(method, path, headers=bearer())
        assert response.status == 404, path
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"code": 5, "message": f"no route for {method} {path.split('?')[0]}"}


async def test_unknown_query_parameters_are_400_not_503(gateway):
    response = await gateway.request("GET", "/v1/system/status?verbose=true")

    assert response.status == 400
    assert response.json()["code"] == 3
    assert '"verbose"' in response.json()["message"]


async def test_bodies_over_the_limit_are_413(gateway):
    headers = {**JSON, **bearer()}
    small = await gateway.request("POST", "/v1/fixture/widgets", b'{"name": "crate", "size": 3}', headers)
    assert small.status == 200
    assert small.json() == {"name": "crate", "size": 3, "archived": False}

    too_big = json.dumps({"name": "x" * MAX_REQUEST_BYTES}).encode()
    for method, path in [("POST", "/v1/fixture/widgets"), ("GET", "/v1/system/status"), ("POST", "/nope")]:
        response = await gateway.request(method, path, too_big, headers)
        assert response.status == 413, path
        assert response.json() == {
            "code": 8,
            "message": f"request body larger than {MAX_REQUEST_BYTES} bytes",
        }


async def test_a_body_sent_slowly_is_still_limited(gateway):
    """The transcoder's own limit lets a body through that arrives in pieces it parses as they come;
    the buffer filter in front of it counts every byte."""
    body = b'{"name": "crate", ' + b'"size": 1, ' * (MAX_REQUEST_BYTES // 10) + b'"size": 2}'

    def send_slowly() -> bytes:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
            head = f"POST /v1/fixture/widgets HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {SIGNER.token()}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            connection.sendall(head.encode())
            for start in range(0, len(body), 4096):
                if select.select([connection], [], [], 0)[0]:
                    break  # Envoy has answered; it will not read the rest
                connection.sendall(body[start : start + 4096])
                time.sleep(0.002)
            return connection.recv(65536)

    answer = await asyncio.to_thread(send_slowly)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


async def test_unknown_json_body_fields_are_dropped_not_rejected(gateway):
    """Envoy cannot reject them (see gateway/README.md); this pins the behaviour services must expect."""
    response = await gateway.request(
        "POST", "/v1/fixture/widgets", b'{"name": "crate", "colour": "red"}', {**JSON, **bearer()}
    )

    assert response.status == 200
    assert response.json() == {"name": "crate", "size": 0, "archived": False}


async def test_server_streaming_reaches_http_clients_as_server_sent_events(gateway):
    response = await gateway.request("GET", "/v1/fixture/widgets:watch?count=3", headers=bearer())

    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = [json.loads(chunk.removeprefix(b"data: ")) for chunk in response.body.split(b"\n\n") if chunk]
    assert events == [{"name": f"widget-{n}", "size": n, "archived": False} for n in range(3)]


async def test_grpc_calls_to_internal_unknown_or_down_services(gateway):
    async with grpc.aio.insecure_channel(gateway.address) as channel:

        async def call(path: str) -> grpc.aio.AioRpcError:
            try:
                await channel.unary_unary(path)(b"", metadata=tuple(bearer().items()), timeout=5)
            except grpc.aio.AioRpcError as error:
                return error
            raise AssertionError(f"{path} answered")

        internal = await call("/dockyard.system.v1.ComponentService/GetComponentStatus")
        assert internal.code() == grpc.StatusCode.UNIMPLEMENTED
        assert internal.details() == "no route for /dockyard.system.v1.ComponentService/GetComponentStatus"
        assert (await call("/nope.v1.Nothing/Nothing")).code() == grpc.StatusCode.UNIMPLEMENTED

        # Nothing listens for "projects": Envoy's health checks say so, and callers get UNAVAILABLE.
        await gateway.wait_health("projects", "/failed_active_hc")
        down = await call("/dockyard.audit.v1.GatewayFixtureGrpcOnlyService/PingWidget")
        assert down.code() == grpc.StatusCode.UNAVAILABLE


async def test_cors_preflight_and_cross_origin_requests(gateway):
    origin = {"origin": "https://console.example"}
    preflight = await gateway.request(
        "OPTIONS",
        "/v1/fixture/widgets",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
        },
    )
    assert preflight.status == 200
    assert preflight.headers["access-control-allow-origin"] == "https://console.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]

    response = await gateway.request("GET", "/v1/system/status", headers=origin)
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "https://console.example"


async def test_request_ids_are_kept_or_generated_and_reach_the_service(gateway, backend):
    given = await gateway.request("GET", "/v1/system/status", headers={"x-request-id": "req-7f3a"})
    assert given.headers["x-request-id"] == "req-7f3a"
    assert backend.system.request_ids[-1] == "req-7f3a"

    generated = await gateway.request("GET", "/v1/system/status")
    assert len(generated.headers["x-request-id"]) == 36  # a UUID
    assert backend.system.request_ids[-1] == generated.headers["x-request-id"]


FORGED = {"x-forwarded-for": "203.0.113.9, 198.51.100.7", GATEWAY_CREDENTIAL_HEADER: "forged-" + "0" * 32}


async def test_the_service_gets_the_client_address_envoy_saw_and_its_credential_only(gateway, backend):
    """Whatever a client sends as X-Forwarded-For or as the gateway's credential is replaced: the
    service receives the address Envoy's peer had and the configured credential, once each."""
    response = await gateway.request("GET", "/v1/system/status", headers=FORGED, source="127.0.0.6")
    assert response.status == 200
    assert backend.system.forwarded[-1] == (["127.0.0.6"], [GATEWAY_SECRET])
    assert GATEWAY_SECRET not in json.dumps(response.headers) + response.body.decode()

    async with grpc.aio.insecure_channel(gateway.address) as channel:
        await system_pb2_grpc.SystemServiceStub(channel).GetSystemStatus(
            system_pb2.GetSystemStatusRequest(), metadata=tuple(FORGED.items()), timeout=5
        )
    assert backend.system.forwarded[-1] == (["127.0.0.1"], [GATEWAY_SECRET])


async def test_access_logs_are_json_without_queries_or_credentials(gateway):
    token = SIGNER.token()
    response = await gateway.request(
        "GET", "/v1/fixture/widgets:watch?count=1", headers={**bearer(token), "x-request-id": "log-me"}
    )
    assert response.status == 200

    # Envoy writes access logs in batches (every 10 s by default).
    async with asyncio.timeout(15):
        while True:
            entries = [json.loads(line) for line in gateway.lines if '"log-me"' in line]
            if entries:
                break
            await asyncio.sleep(0.2)
    (entry,) = entries
    assert entry["method"] == "GET"
    assert entry["path"] == "/v1/fixture/widgets:watch"
    assert entry["rpc"] == "/dockyard.audit.v1.GatewayFixtureService/WatchWidgets"
    assert entry["status"] == 200
    assert entry["grpc_status"] == 0
    assert entry["upstream_cluster"] == "audit"
    assert isinstance(entry["duration_ms"], int)
    assert entry["bytes_sent"] > 0
    assert not any(token in line or "count=1" in line for line in gateway.lines)


async def test_headers_grpc_metadata_cannot_carry_are_dropped_from_http_requests(gateway):
    # Legal HTTP, not gRPC metadata: forwarded, they made the backend's gRPC server fail the call
    # (INTERNAL, "Illegal header key") before the service saw it.
    unfit = {"+odd": "1", "x-trace-bin": "not base64!", "grpc-timeout": "soon"}
    response = await gateway.request("GET", "/v1/system/status", headers=unfit)
    assert response.status == 200, response.body
    # The headers gRPC can carry still reach the service.
    failing = await gateway.request("GET", "/v1/system/status", headers={**unfit, FAIL_HEADER: "not_found"})
    assert failing.status == 404, failing.body
