"""DomainService on the running platform: create (host names normalized), read, list in pages,
update, delete with its certificates (an event each), a host name once per project (and pending claims
of other projects beside it: ownership is test_domain_verification.py's), every constraint named over
REST and gRPC, and targets only among the project's live applications and databases."""

import asyncio
import uuid

import pytest
from google.protobuf import field_mask_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import DENIED, INVALID, NOT_FOUND, TIMEOUT, field_of, payload, rest, rpc_error
from tests.support.certs import self_signed
from tests.support.database import admin_database
from tests.support.resources import (
    create,
    create_domain,
    host,
    insert_application,
    insert_database,
    outbox,
    sql_value,
    unique,
    violated_field,
)


@pytest.fixture(scope="module")
def domains_api(gateway_channel):
    return projects_pb2_grpc.DomainServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def domains_direct(projects_channel):
    return projects_pb2_grpc.DomainServiceStub(projects_channel)


def add_certificate(stack, account, domain: dict) -> dict:
    issued = self_signed(domain["domain"])
    status, body = rest(
        stack.port,
        "POST",
        f"/v1/domains/{domain['id']}/certificates",
        {"certificate": issued.certificate, "private_key": issued.private_key},
        token=account.token,
    )
    assert status == 200, body
    return body


def test_create_get_list_update_delete_over_rest_with_events(stack, people):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    db_id = insert_database(stack, project["id"])
    name = host()
    body = create_domain(
        stack, people.owner, project["id"], app_id, domain=f"{name.upper()}.", tls_enabled=True
    )
    assert body["domain"] == name and body["tls_enabled"] is True
    assert (body["target_type"], body["target_id"], body["project_id"]) == (
        "application",
        app_id,
        project["id"],
    )
    status, fetched = rest(stack.port, "GET", f"/v1/domains/{body['id']}", token=people.owner.token)
    assert status == 200 and fetched == body
    status, listed = rest(
        stack.port, "GET", f"/v1/projects/{project['id']}/domains", token=people.owner.token
    )
    assert status == 200 and listed["domains"] == [body]

    status, updated = rest(
        stack.port,
        "PATCH",
        f"/v1/domains/{body['id']}?update_mask=target_type,target_id,tls_enabled",
        {
            "target_type": "database",
            "target_id": db_id,
            "tls_enabled": False,
            "domain": "ignored.example.com",
        },
        token=people.owner.token,
    )
    assert status == 200, updated
    assert (updated["target_type"], updated["target_id"], updated["domain"]) == ("database", db_id, name)
    assert not updated.get("tls_enabled")

    assert rest(stack.port, "DELETE", f"/v1/domains/{body['id']}", token=people.owner.token)[0] == 200
    assert rest(stack.port, "GET", f"/v1/domains/{body['id']}", token=people.owner.token)[0] == 404
    events = outbox(stack, body["id"])
    assert [e.type for e in events] == [
        "projects.domain.created",
        "projects.domain.updated",
        "projects.domain.deleted",
    ]
    assert payload(events[1], events_pb2.DomainChanged).domain.target_id == db_id
    assert {e.actor_user_id for e in events} == {people.owner.id}


def test_international_names_are_stored_in_idna(stack, people):
    project = create(stack, people.owner)
    label = unique("bücher")
    body = create_domain(
        stack,
        people.owner,
        project["id"],
        insert_application(stack, project["id"]),
        domain=f"{label}.Example",
    )
    assert body["domain"] == f"{label.encode('idna').decode()}.example"
    assert body["domain"].startswith("xn--")


def test_create_update_delete_over_grpc_direct_and_through_the_gateway(
    stack, people, domains_direct, domains_api
):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    other_app = insert_application(stack, project["id"])
    for api in (domains_direct, domains_api):
        created = api.CreateDomain(
            projects_pb2.CreateDomainRequest(
                project_id=project["id"],
                domain=projects_pb2.Domain(domain=host(), target_type="application", target_id=app_id),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert created.target_id == app_id and not created.tls_enabled and created.created_at.seconds
        updated = api.UpdateDomain(
            projects_pb2.UpdateDomainRequest(
                domain=projects_pb2.Domain(id=created.id, target_id=other_app, tls_enabled=True),
                update_mask=field_mask_pb2.FieldMask(paths=["target_id"]),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert (updated.target_id, updated.tls_enabled) == (other_app, False)
        got = api.GetDomain(
            projects_pb2.GetDomainRequest(domain_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert got == updated
        api.DeleteDomain(
            projects_pb2.DeleteDomainRequest(domain_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        error = rpc_error(
            api.GetDomain, projects_pb2.GetDomainRequest(domain_id=created.id), people.owner.metadata
        )
        assert error.code() == NOT_FOUND


def test_a_project_claims_a_host_name_once_whatever_the_case(stack, people):
    name = host()
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    create_domain(stack, people.owner, project["id"], app_id, domain=name)
    for spelling in (name, name.upper(), f"{name}."):
        status, body = rest(
            stack.port,
            "POST",
            f"/v1/projects/{project['id']}/domains",
            {"domain": spelling, "target_type": "application", "target_id": app_id},
            token=people.owner.token,
        )
        assert status == 409, body
        assert violated_field(body) == "domain" and name in body["message"]


def test_another_project_claiming_the_host_name_gets_a_pending_claim_of_its_own(stack, people):
    """Several tenants may hold pending claims on a host name (test_domain_verification.py: only one
    is ever verified); a claim answers the same whether or not anyone else holds one."""
    name = host()
    project = create(stack, people.owner)
    first = create_domain(
        stack, people.owner, project["id"], insert_application(stack, project["id"]), domain=name
    )
    other = create(stack, people.developer)
    second = create_domain(
        stack, people.developer, other["id"], insert_application(stack, other["id"]), domain=name
    )
    assert (first["domain"], second["domain"]) == (name, name) and first["id"] != second["id"]
    assert second["verification_state"] == "pending" and first["id"] not in str(second)
    assert second["verification_record_value"] != first["verification_record_value"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"domain": ""}, "domain"),
        ({"domain": "localhost"}, "domain"),
        ({"domain": "bad_name.example.com"}, "domain"),
        ({"domain": "-x.example.com"}, "domain"),
        ({"domain": "a..example.com"}, "domain"),
        ({"domain": f"{'a' * 64}.example.com"}, "domain"),
        ({"domain": ".".join(["abcdefghi"] * 26)}, "domain"),
        ({"domain": "app.example.42"}, "domain"),
        ({"target_type": "volume"}, "target_type"),
        ({"target_type": ""}, "target_type"),
        ({"target_id": "not-a-uuid"}, "target_id"),
        ({"target_id": ""}, "target_id"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(stack, people, fields, field):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    body = {"domain": host(), "target_type": "application", "target_id": app_id, **fields}
    status, answer = rest(
        stack.port, "POST", f"/v1/projects/{project['id']}/domains", body, token=people.owner.token
    )
    assert status == 400, answer
    assert violated_field(answer) == field
    assert (
        sql_value(stack, "SELECT count(*) FROM domains WHERE project_id = $1", uuid.UUID(project["id"])) == 0
    )


def test_targets_are_live_applications_or_databases_of_the_same_project(stack, people, domains_api):
    project = create(stack, people.owner)
    elsewhere = create(stack, people.developer)
    foreign_app = insert_application(stack, elsewhere["id"])
    foreign_db = insert_database(stack, elsewhere["id"])
    archived_app = insert_application(stack, project["id"], archived=True)
    app_id = insert_application(stack, project["id"])
    db_id = insert_database(stack, project["id"])

    def refused(target_type: str, target_id: str) -> str:
        error = rpc_error(
            domains_api.CreateDomain,
            projects_pb2.CreateDomainRequest(
                project_id=project["id"],
                domain=projects_pb2.Domain(domain=host(), target_type=target_type, target_id=target_id),
            ),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == "target_id", error.details()
        return error.details().replace(target_id, "<id>")

    unknown = str(uuid.uuid4())
    assert refused("application", foreign_app) == refused("application", unknown)
    assert refused("database", foreign_db) == refused("database", unknown)
    assert "archived" in refused("application", archived_app)
    assert refused("database", app_id) == refused("database", unknown)  # the id is not a database
    assert refused("application", db_id) == refused("application", unknown)
    assert (
        sql_value(stack, "SELECT count(*) FROM domains WHERE project_id = $1", uuid.UUID(project["id"])) == 0
    )

    # An update is checked the same way, against the target type the domain will have.
    domain = create_domain(stack, people.owner, project["id"], app_id)
    for mask, fields in (
        ("target_id", {"target_id": foreign_app}),
        ("target_type", {"target_type": "database"}),
        ("target_type,target_id", {"target_type": "database", "target_id": foreign_db}),
    ):
        status, body = rest(
            stack.port,
            "PATCH",
            f"/v1/domains/{domain['id']}?update_mask={mask}",
            fields,
            token=people.owner.token,
        )
        assert status == 400 and violated_field(body) == "target_id", body
    status, body = rest(
        stack.port,
        "PATCH",
        f"/v1/domains/{domain['id']}?update_mask=target_type",
        {"target_type": "cluster"},
        token=people.owner.token,
    )
    assert status == 400 and violated_field(body) == "target_type"
    status, body = rest(stack.port, "GET", f"/v1/domains/{domain['id']}", token=people.owner.token)
    assert body == domain
    assert [e.type for e in outbox(stack, domain["id"])] == ["projects.domain.created"]


def events_of(stack, resource_ids: set[str]) -> list[Event]:
    """The outbox's events about any of `resource_ids`, in the order they were written."""

    async def read():
        async with admin_database(stack, "projects") as pool:
            rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
        return [Event.FromString(row["envelope"]) for row in rows]

    return [event for event in asyncio.run(read()) if event.resource_id in resource_ids]


def test_deleting_a_domain_deletes_its_certificates_with_an_event_each(stack, people):
    project = create(stack, people.owner)
    domain = create_domain(stack, people.owner, project["id"], insert_application(stack, project["id"]))
    certificates = [add_certificate(stack, people.owner, domain) for _ in range(2)]
    assert rest(stack.port, "DELETE", f"/v1/domains/{domain['id']}", token=people.owner.token)[0] == 200
    assert (
        sql_value(stack, "SELECT count(*) FROM certificates WHERE domain_id = $1", uuid.UUID(domain["id"]))
        == 0
    )
    for certificate in certificates:
        assert (
            rest(stack.port, "GET", f"/v1/certificates/{certificate['id']}", token=people.owner.token)[0]
            == 404
        )
    # Children first: a deleted event for each certificate, then the domain's.
    ids = {domain["id"], *(c["id"] for c in certificates)}
    deletions = [e for e in events_of(stack, ids) if e.type.endswith(".deleted")]
    assert [e.type for e in deletions] == [
        "projects.certificate.deleted",
        "projects.certificate.deleted",
        "projects.domain.deleted",
    ]
    assert {e.actor_user_id for e in deletions} == {people.owner.id}
    for event in deletions[:2]:
        message = payload(event, events_pb2.CertificateChanged).certificate
        assert (message.domain, message.project_id, message.private_key) == (
            domain["domain"],
            project["id"],
            "********",
        )
    assert {e.resource_id for e in deletions[:2]} == {c["id"] for c in certificates}


def test_who_may_see_and_change_domains(stack, people, domains_api):
    project = create(stack, people.owner, team_id=people.crew.id)
    domain = create_domain(stack, people.owner, project["id"], insert_application(stack, project["id"]))
    request = projects_pb2.GetDomainRequest(domain_id=domain["id"])
    unknown = str(uuid.uuid4())
    missing = rpc_error(
        domains_api.GetDomain, projects_pb2.GetDomainRequest(domain_id=unknown), people.owner.metadata
    )
    for stranger in (people.unrelated, people.developer, people.project_limited_admin):
        error = rpc_error(domains_api.GetDomain, request, stranger.metadata)
        assert error.code() == missing.code() == NOT_FOUND
        assert error.details().replace(domain["id"], "<id>") == missing.details().replace(unknown, "<id>")
    delete = projects_pb2.DeleteDomainRequest(domain_id=domain["id"])
    assert rpc_error(domains_api.DeleteDomain, delete, people.read_only_admin.metadata).code() == DENIED
    assert rpc_error(domains_api.DeleteDomain, delete, people.viewer.metadata).code() == NOT_FOUND
    assert rest(stack.port, "GET", f"/v1/domains/{domain['id']}", token=people.super_admin.token)[0] == 200


def test_pages_walk_every_domain_once_newest_first(stack, people):
    project = create(stack, people.owner)
    app_id = insert_application(stack, project["id"])
    created = [create_domain(stack, people.owner, project["id"], app_id)["id"] for _ in range(5)]
    seen, token = [], ""
    while True:
        status, body = rest(
            stack.port,
            "GET",
            f"/v1/projects/{project['id']}/domains?page_size=2&page_token={token}",
            token=people.owner.token,
        )
        assert status == 200, body
        seen += [d["id"] for d in body["domains"]]
        token = body.get("next_page_token", "")
        if not token:
            break
    assert seen == list(reversed(created))
