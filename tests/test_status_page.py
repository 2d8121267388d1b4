"""The public status page on the whole stack: anyone reads whether each part works, only platform
admins read why not (error text) and what runs (versions, migration revisions), and anonymous
callers arriving together cost the services one round of ComponentService calls, not one each."""

import concurrent.futures
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accounts import PASSWORD, Account, create_account, login, setup_admin
from tests.support.calls import call

COMPONENT_STATUS = "/dockyard.system.v1.ComponentService/GetComponentStatus"
SERVICES = ["identity", "projects", "deployer", "audit", "notifications"]


@pytest.fixture(scope="module")
def admin(gateway_channel) -> Account:
    return Account(setup_admin(gateway_channel), login(gateway_channel, "root", PASSWORD))


def status_page(stack, token: str = "") -> dict:
    status, body = call(stack, "GET", "/v1/system/status", token=token)
    assert status == 200, body
    return body


def assert_states_only(body: dict) -> None:
    database, nats, docker = body["database"], body["nats"], body["docker"]
    assert database["server_version"] == "" and database["error"] == ""
    assert all(s["migration_head"] == "" and s["current_revision"] == "" for s in database["schemas"])
    assert nats["error"] == "" and nats["stream"] == ""
    assert docker["version"] == "" and docker["error"] == ""


def test_anonymous_callers_read_states_only(stack, admin):
    body = status_page(stack)
    # The states are all there...
    assert body["database"]["initialized"] is True and body["database"]["configured"] is True
    assert body["nats"]["connected"] is True
    assert [s["name"] for s in body["database"]["schemas"]] == SERVICES
    assert all(s["at_head"] for s in body["database"]["schemas"])
    assert {s["name"]: s["status"] for s in body["services"]} == dict.fromkeys(SERVICES, "SERVING")
    # ...and nothing else.
    assert_states_only(body)


def test_platform_admins_read_the_detail(stack, admin):
    body = status_page(stack, admin.token)
    assert body["database"]["server_version"]  # PostgreSQL's, e.g. "18.1"
    assert all(s["migration_head"] and s["current_revision"] for s in body["database"]["schemas"])
    assert body["nats"]["stream"] == "DOCKYARD"
    docker = body["docker"]
    assert docker["version"] if docker["available"] else docker["error"]


def test_other_callers_and_bad_tokens_read_states_only(stack, gateway_channel, admin):
    developer = create_account(gateway_channel, admin, "status-dev", "developer")
    assert_states_only(status_page(stack, developer.token))
    # A token that does not verify is not refused on a public page: it reads what anyone reads.
    assert_states_only(status_page(stack, admin.token[:-4] + "AAAA"))


def component_status_calls(stack) -> float:
    """ComponentService calls every service has answered so far (its Prometheus counter)."""
    total = 0.0
    for service in SERVICES:
        with urllib.request.urlopen(f"http://{stack.state['metrics'][service]}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "dockyard_grpc_requests_total"
                    and sample.labels["method"] == COMPONENT_STATUS
                ):
                    total += sample.value
    return total


def test_anonymous_callers_arriving_together_share_one_round_of_calls(stack, admin):
    time.sleep(2.5)  # whatever an earlier test read is too old to be served again
    before = component_status_calls(stack)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        bodies = list(pool.map(lambda _: status_page(stack), range(20)))
    assert all(body["database"]["initialized"] for body in bodies)
    # One round: each service asked once.
    assert component_status_calls(stack) - before == len(SERVICES)

    # An admin's read is never served from that copy.
    status_page(stack, admin.token)
    assert component_status_calls(stack) - before == 2 * len(SERVICES)
