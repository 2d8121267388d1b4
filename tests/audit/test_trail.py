"""The trail through the whole platform: what people do becomes entries (who, what, when, from
where), listed newest first and filtered, over REST through the gateway and over gRPC."""

import datetime

import pytest

from dockyard.audit.v1 import audit_pb2, audit_pb2_grpc
from tests.support.calls import TIMEOUT
from tests.support.resources import call, create, new_app, sql, unique
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def audit_direct(stack):
    import grpc

    with grpc.insecure_channel(stack.addresses["audit"]) as channel:
        yield audit_pb2_grpc.AuditLogServiceStub(channel)


def entries(stack, account, query: str = "") -> list[dict]:
    status, body = call(stack, account, "GET", f"/v1/audit-logs{query}")
    assert status == 200, body
    return body["audit_logs"]


def test_creating_a_project_and_an_application_is_recorded_with_who_and_from_where(stack, people):
    project = create(stack, people.owner)
    app = new_app(stack, people.owner, project["id"])

    def recorded():
        found = entries(stack, people.owner, f"?resource_id={app['id']}")
        assert [entry["action"] for entry in found] == ["projects.application.created"]
        return found[0]

    entry = eventually(recorded)
    assert entry["resource_type"] == "application"
    assert entry["project_id"] == project["id"]
    assert entry["user_id"] == people.owner.id
    assert entry["username"] == "owner1"
    assert entry["ip_address"] == "127.0.0.1"
    assert entry["details"]["application"]["name"] == app["name"]
    assert entry["request_id"]

    project_entries = entries(stack, people.owner, f"?project_id={project['id']}")
    assert [e["action"] for e in project_entries] == [
        "projects.application.created",
        "projects.project.created",
    ]


def test_an_entry_is_read_by_id_over_grpc(stack, people, audit_direct):
    project = create(stack, people.owner)
    found = eventually(lambda: entries(stack, people.owner, f"?resource_id={project['id']}") or None)
    entry = audit_direct.GetAuditLog(
        audit_pb2.GetAuditLogRequest(id=int(found[0]["id"])), metadata=people.owner.metadata, timeout=TIMEOUT
    )
    assert (entry.action, entry.resource_id) == ("projects.project.created", project["id"])


def test_full_text_finds_a_project_by_a_word_of_its_description(stack, people):
    word = unique("zebra").replace("-", "")
    create(stack, people.owner, description=f"the {word} project")
    found = eventually(lambda: entries(stack, people.owner, f"?query={word}") or None)
    assert [entry["action"] for entry in found] == ["projects.project.created"]


def test_the_system_status_shows_the_partitions_made_ahead_and_entries_waiting_in_the_default_one(
    stack, people
):
    now = datetime.datetime.now(datetime.UTC)
    months = [(now.year + (now.month - 1 + k) // 12, (now.month - 1 + k) % 12 + 1) for k in range(3)]
    ahead = [f"audit_logs_{year:04d}_{month:02d}" for year, month in months]

    def trail_status() -> dict:
        status, body = call(stack, people.super_admin, "GET", "/v1/system/status")
        assert status == 200, body
        return body["audit_trail"]

    assert set(ahead) <= set(eventually(lambda: trail_status()["partitions"] or None))
    far = now.replace(year=now.year + 3)
    sql(
        stack,
        "audit",
        "INSERT INTO audit_logs (action, resource_type, created_at, event_id)"
        " VALUES ('projects.project.updated', 'project', $1, gen_random_uuid())",
        far,
    )
    shown = trail_status()
    assert int(shown["default_partition_rows"]) >= 1
    assert "default partition" in shown["warning"]
    sql(stack, "audit", "DELETE FROM audit_logs WHERE created_at = $1", far)
