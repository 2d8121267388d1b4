"""`make run` never loses a race for a port: a port taken between the launcher's choice and the
child's bind costs a retry on another port, not the start-up. Each kind of child is handed a port
that is already taken (held by a listening socket of the test)."""

import json
import socket
import sys

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tests.support.processes import ServiceProcess
from tests.support.stack_process import StackProcess


@pytest.fixture
def taken_port():
    """A port something else listens on for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def start_handed(kind: str, port: int, data_dir) -> StackProcess:
    stack = StackProcess(
        data_dir,
        argv=[sys.executable, "-m", "tests.support.taken_port_launcher", kind, str(port)],
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}"},
    )
    stack.wait_running()
    return stack


def assert_serving(stack: StackProcess) -> None:
    status, body = stack.get("/v1/system/status")
    assert status == 200, body
    assert body["database"]["initialized"] is True, body
    assert body["nats"]["connected"] is True, body
    assert {s["status"] for s in body["services"]} == {"SERVING"}, body


@pytest.mark.parametrize("kind", ["postgres", "nats"])
def test_a_server_handed_a_taken_port_starts_on_another(kind, taken_port, tmp_path):
    stack = start_handed(kind, taken_port, tmp_path / "data")
    try:
        assert_serving(stack)
        assert f"port {taken_port} was taken meanwhile; {kind} tries another" in stack.output()
        where = stack.state["postgres"] if kind == "postgres" else stack.state["nats"]
        assert not where.endswith(f":{taken_port}"), where
    finally:
        assert stack.interrupt(), stack.output()[-3000:]


def test_services_handed_a_taken_port_start_again_on_new_ones(taken_port, tmp_path):
    stack = start_handed("service", taken_port, tmp_path / "data")
    try:
        assert_serving(stack)
        output = stack.output()
        assert f"cannot listen for gRPC on 127.0.0.1:{taken_port}: Address already in use" in output
        assert "a port was taken before identity could bind it; starting again" in output
        assert stack.addresses["identity"] != f"127.0.0.1:{taken_port}"
        assert "Traceback" not in output and "Event loop is closed" not in output
    finally:
        assert stack.interrupt(), stack.output()[-3000:]


def test_envoy_and_the_services_take_their_admin_and_metrics_ports_themselves(tmp_path):
    """No port to lose: Envoy's admin and each service's metrics listener bind port 0 and report
    the port they got, which the launcher passes on (its state file, the summary)."""
    data_dir = tmp_path / "data"
    stack = StackProcess(
        data_dir,
        argv=[sys.executable, "-m", "dockyard_kit.stack"],
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}"},
    )
    try:
        stack.wait_running()
        config = yaml.safe_load((data_dir / "gateway" / "envoy.yaml").read_text())
        assert config["admin"]["address"]["socket_address"]["port_value"] == 0
        admin = stack.state["envoy_admin"]
        assert not admin.endswith(":0")
        assert f"http://{admin}" in stack.output()
        for name, metrics in stack.state["metrics"].items():
            assert not metrics.endswith(":0"), name
            assert f"http://{metrics}/metrics" in stack.output()
    finally:
        assert stack.interrupt(), stack.output()[-3000:]
    assert not (data_dir / "stack.json").exists()


@pytest.mark.parametrize("listener", ["gRPC", "metrics"])
def test_a_service_that_cannot_listen_says_so_in_one_line(listener, taken_port, service_envs):
    taken = f"127.0.0.1:{taken_port}"
    if listener == "gRPC":
        service = ServiceProcess("tests.support.probe_service", service_envs["probe"], address=taken)
    else:
        service = ServiceProcess(
            "tests.support.probe_service", {**service_envs["probe"], "DOCKYARD_METRICS_ADDR": taken}
        )
    code = service.process.wait(60)
    service.stop()
    assert code == 3, service.lines
    (line,) = service.lines
    assert json.loads(line)["msg"] == f"cannot listen for {listener} on {taken}: Address already in use"
