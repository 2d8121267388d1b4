"""The README's run command, as a person uses it: up, healthy through the gateway, Ctrl-C, no orphans."""

import time

import pytest

from tests.support.calls import call
from tests.support.stack_process import StackProcess, alive, descendants


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def status_as_first_admin(stack: StackProcess) -> dict:
    """The status page as read by the first super_admin, created and signed in over HTTP/JSON."""
    account = {"username": "root", "email": "root@example.com", "password": "correct horse battery"}
    assert call(stack, "POST", "/v1/setup", account)[0] == 200
    status, tokens = call(
        stack, "POST", "/v1/auth/login", {"username": "root", "password": account["password"]}
    )
    assert status == 200, tokens
    status, body = call(stack, "GET", "/v1/system/status", token=tokens["access_token"])
    assert status == 200, body
    return body


def test_make_run_serves_status_through_the_gateway_and_ctrl_c_leaves_no_orphans(data_dir):
    stack = StackProcess(data_dir)
    try:
        stack.wait_running()
        status, body = stack.get("/v1/system/status")
        assert status == 200, body
        database = body["database"]
        assert database["configured"] is True
        assert database["initialized"] is True
        assert database["dialect"] == "postgresql"
        assert sorted(s["name"] for s in database["schemas"]) == [
            "audit",
            "deployer",
            "identity",
            "notifications",
            "projects",
        ]
        assert all(s["at_head"] for s in database["schemas"])
        assert body["nats"]["connected"] is True
        assert {s["name"]: s["status"] for s in body["services"]} == dict.fromkeys(
            ["identity", "projects", "deployer", "audit", "notifications"], "SERVING"
        )
        assert body["checked_at"].endswith("Z")  # RFC 3339 through the gateway
        # Versions and revisions are for platform admins: the first one, set up as the README says.
        assert database["server_version"] == ""
        detail = status_as_first_admin(stack)
        assert detail["database"]["server_version"].startswith("18")
        assert all(s["at_head"] and s["migration_head"] for s in detail["database"]["schemas"])
        assert detail["nats"] == {"connected": True, "stream": "DOCKYARD", "error": ""}
        for expected in (f"http://127.0.0.1:{stack.port}", str(data_dir)):
            assert expected in stack.output()
        children = descendants(stack.process.pid)
        assert len(children) >= 8  # launcher, postgres, nats, four services, envoy
    finally:
        clean = stack.interrupt()
    assert clean, stack.output()[-3000:]
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []


def test_a_second_run_on_the_same_data_refuses_and_data_survives_a_restart(data_dir):
    first = StackProcess(data_dir)
    try:
        first.wait_running()
        second = StackProcess(data_dir)
        assert second.process.wait(60) != 0
        assert "already running" in second.output()
        assert first.get("/v1/system/status")[0] == 200  # the first one is untouched
    finally:
        assert first.interrupt()
    again = StackProcess(data_dir)
    try:
        again.wait_running()
        status, body = again.get("/v1/system/status")
        assert status == 200 and body["database"]["initialized"] is True
        assert "migrations applied" not in again.output()  # same database, already at head
    finally:
        assert again.interrupt()


def test_a_gateway_port_in_use_is_reported_clearly(data_dir):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = StackProcess(data_dir, env={"DOCKYARD_GATEWAY_PORT": str(port)})
        assert stack.process.wait(60) != 0
    assert f"port {port}" in stack.output() and "already in use" in stack.output()
    assert "Traceback" not in stack.output()
