"""The kit's server bootstrap, run for real: draining shutdown, truthful health, error mapping."""

import concurrent.futures
import signal
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from dockyard_kit.stack.components import Postgres, free_port
from tests.support.probe_service import PROBE_SERVICE
from tests.support.processes import PROBE, ServiceProcess, bootstrap_services
from tests.support.waiting import eventually


def call(address: str, method: str, payload: bytes, timeout: float = 10, metadata=()) -> bytes:
    with grpc.insecure_channel(address) as channel:
        return channel.unary_unary(f"/{PROBE_SERVICE}/{method}")(payload, timeout=timeout, metadata=metadata)


@pytest.fixture
def probe(service_envs):
    metrics = f"127.0.0.1:{free_port()}"
    process = ServiceProcess(
        "tests.support.probe_service", {**service_envs[PROBE], "DOCKYARD_METRICS_ADDR": metrics}
    )
    process.metrics_url = f"http://{metrics}/metrics"
    process.wait_health("SERVING")
    yield process
    process.stop()


def test_sigterm_lets_the_slow_rpc_finish_refuses_new_ones_and_exits_zero(probe):
    with concurrent.futures.ThreadPoolExecutor() as pool:
        slow = pool.submit(call, probe.address, "Sleep", b"3")
        time.sleep(0.7)  # the slow call is in flight
        probe.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(grpc.RpcError) as refused:
            call(probe.address, "Sleep", b"0", timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert slow.result(timeout=15) == b"slept"
    assert probe.process.wait(timeout=15) == 0


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL of this test's own, which the test stops and starts."""
    server = Postgres(tmp_path / "pg", free_port(), sink=lambda name, line: None)
    server.start()
    yield server
    server.stop()


def test_health_follows_the_database_without_a_restart(own_postgres, operator_env, tmp_path):
    operator = {**operator_env, **own_postgres.client_environment()}
    env = bootstrap_services(operator, tmp_path / "service-secrets", (PROBE,))[PROBE]
    probe = ServiceProcess("tests.support.probe_service", env)
    try:
        probe.wait_health("SERVING")
        own_postgres.stop()
        probe.wait_health("NOT_SERVING", timeout=10)
        with pytest.raises(grpc.RpcError) as down:
            call(probe.address, "Fail", b"unique")
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE
        own_postgres.start()
        probe.wait_health("SERVING", timeout=20)
        assert probe.process.poll() is None  # the same process, never restarted
    finally:
        assert probe.stop() == 0


def field_violations(error: grpc.RpcError) -> list[str]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            fields = []
            for detail in status.details:
                bad_request = error_details_pb2.BadRequest()
                if detail.Unpack(bad_request):
                    fields += [violation.field for violation in bad_request.field_violations]
            return fields
    return []


@pytest.mark.parametrize(
    ("kind", "code", "field"),
    [
        ("unique", grpc.StatusCode.ALREADY_EXISTS, "name"),
        ("check", grpc.StatusCode.INVALID_ARGUMENT, "size_gb"),
        ("not_null", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ("too_long", grpc.StatusCode.INVALID_ARGUMENT, None),
        ("restrict", grpc.StatusCode.FAILED_PRECONDITION, None),
        ("foreign_key", grpc.StatusCode.FAILED_PRECONDITION, None),
        ("not_found", grpc.StatusCode.NOT_FOUND, None),
        ("permission_denied", grpc.StatusCode.PERMISSION_DENIED, None),
        ("unauthenticated", grpc.StatusCode.UNAUTHENTICATED, None),
        ("invalid_argument", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ("resource_exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED, None),
    ],
)
def test_errors_map_to_their_status(probe, kind, code, field):
    with pytest.raises(grpc.RpcError) as raised:
        call(probe.address, "Fail", kind.encode())
    assert raised.value.code() == code, raised.value.details()
    if field is not None:
        assert field_violations(raised.value) == [field]
        assert field in raised.value.details()


def test_unexpected_error_is_internal_with_request_id_and_no_internals(probe):
    with pytest.raises(grpc.RpcError) as raised:
        call(probe.address, "Fail", b"internal", metadata=(("x-request-id", "req-4711"),))
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == "internal error (request id req-4711)"
    # Log lines are written by a thread of their own (dockyard_kit.logs): soon, not at once.
    logged = eventually(lambda: [e for e in probe.logs() if e.get("msg") == "unexpected error"], timeout=5)
    assert logged[0]["request_id"] == "req-4711"  # the operator can find it by id


def test_access_log_names_method_code_duration_and_request_id(probe):
    call(probe.address, "Sleep", b"0", metadata=(("x-request-id", "req-42"),))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        entries = [e for e in probe.logs() if e.get("msg") == "rpc" and e.get("request_id") == "req-42"]
        if entries:
            break
        time.sleep(0.1)
    assert entries, probe.lines[-10:]
    assert entries[0]["method"] == f"/{PROBE_SERVICE}/Sleep"
    assert entries[0]["code"] == "OK"
    assert isinstance(entries[0]["duration_ms"], float)


def test_metrics_count_rpcs_and_time_them_by_method_and_code(probe):
    import urllib.request

    call(probe.address, "Sleep", b"0")
    with pytest.raises(grpc.RpcError):
        call(probe.address, "Fail", b"not_found")
    not_found = (
        f'dockyard_grpc_requests_total{{code="NOT_FOUND",method="/{PROBE_SERVICE}/Fail",service="probe"}} 1.0'
    )
    # An aborted RPC's status reaches the client before the server has counted it: poll briefly.
    deadline = time.monotonic() + 5
    while True:
        with urllib.request.urlopen(probe.metrics_url, timeout=5) as response:
            text = response.read().decode()
        if not_found in text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    sleep_ok = f'method="/{PROBE_SERVICE}/Sleep",service="probe"'
    assert f'dockyard_grpc_requests_total{{code="OK",{sleep_ok}}} 1.0' in text
    assert not_found in text
    assert f'dockyard_grpc_request_duration_seconds_count{{code="OK",{sleep_ok}}} 1.0' in text


def test_reflection_lists_the_service_health_and_component_status(probe):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(probe.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (answer,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {service.name for service in answer.list_services_response.service}
    assert {PROBE_SERVICE, "grpc.health.v1.Health", "dockyard.system.v1.ComponentService"} <= names
