"""CertificateService on the running platform: uploads checked (key matches, domain covered,
wildcards, chains, expiry, garbage), the private key sealed at rest and masked in every response and
event, renewals, reveal for managers only (an event), and the expiring list across every project the
caller can see, over REST and gRPC."""

import asyncio
import base64
import datetime
import uuid
from dataclasses import replace

import pytest
from google.protobuf import field_mask_pb2

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import DENIED, INVALID, NOT_FOUND, TIMEOUT, field_of, payload, rest, rpc_error
from tests.support.certs import issued_by_ca, key_pem, new_key, self_signed
from tests.support.database import admin_database
from tests.support.resources import (
    create,
    create_domain,
    insert_application,
    outbox,
    sql_value,
    unique,
    violated_field,
)
from tests.support.waiting import eventually

MASK = "********"
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def certificates_api(gateway_channel):
    return projects_pb2_grpc.CertificateServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def certificates_direct(projects_channel):
    return projects_pb2_grpc.CertificateServiceStub(projects_channel)


def new_domain(stack, account, project=None, **fields) -> dict:
    project = project or create(stack, account)
    return create_domain(stack, account, project["id"], insert_application(stack, project["id"]), **fields)


def upload(stack, account, domain: dict, issued, **fields) -> tuple[int, dict]:
    body = {"certificate": issued.certificate, "private_key": issued.private_key, **fields}
    return rest(stack.port, "POST", f"/v1/domains/{domain['id']}/certificates", body, token=account.token)


def add(stack, account, domain: dict, issued=None, **fields) -> dict:
    status, body = upload(stack, account, domain, issued or self_signed(domain["domain"]), **fields)
    assert status == 200, body
    return body


def stored_private_key(stack, certificate_id: str) -> str:
    async def read():
        async with admin_database(stack, "projects") as pool:
            return await pool.fetchval(
                "SELECT private_key FROM certificates WHERE id = $1", uuid.UUID(certificate_id)
            )

    return asyncio.run(read())


def test_upload_with_a_chain_masks_the_key_and_seals_it_at_rest(stack, people):
    domain = new_domain(stack, people.owner)
    issued, _ = issued_by_ca(domain["domain"], ca_name="Example Root CA")
    body = add(stack, people.owner, domain, issued)
    assert body["private_key"] == MASK
    assert body["certificate"] == issued.certificate
    assert body["issuer"] == "Example Root CA"
    assert (body["domain"], body["domain_id"], body["project_id"]) == (
        domain["domain"],
        domain["id"],
        domain["project_id"],
    )
    assert datetime.datetime.fromisoformat(body["expires_at"]) == issued.expires_at
    for path in (f"/v1/certificates/{body['id']}", f"/v1/domains/{domain['id']}/certificates"):
        status, fetched = rest(stack.port, "GET", path, token=people.owner.token)
        assert status == 200
        assert fetched == body or fetched["certificates"] == [body]

    raw = stored_private_key(stack, body["id"])
    assert "PRIVATE KEY" not in raw and issued.private_key not in raw
    assert len(base64.b64decode(raw)) > len(issued.private_key)
    [event] = outbox(stack, body["id"])
    assert event.type == "projects.certificate.created" and event.actor_user_id == people.owner.id
    assert payload(event, events_pb2.CertificateChanged).certificate.private_key == MASK
    assert issued.private_key.encode() not in event.SerializeToString()


def test_an_explicit_issuer_and_a_wildcard_certificate(stack, people):
    domain = new_domain(stack, people.owner)
    parent = domain["domain"].split(".", 1)[1]
    body = add(stack, people.owner, domain, self_signed(f"*.{parent}"), issuer="Let's Encrypt")
    assert body["issuer"] == "Let's Encrypt"


def test_grpc_direct_and_through_the_gateway(stack, people, certificates_direct, certificates_api):
    domain = new_domain(stack, people.owner)
    for api in (certificates_direct, certificates_api):
        issued = self_signed(domain["domain"], organisation="Grpc CA")
        created = api.CreateCertificate(
            projects_pb2.CreateCertificateRequest(
                domain_id=domain["id"],
                certificate=projects_pb2.Certificate(
                    certificate=issued.certificate, private_key=issued.private_key
                ),
            ),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert (created.private_key, created.issuer, created.domain) == (MASK, "Grpc CA", domain["domain"])
        assert created.expires_at.ToDatetime(datetime.UTC) == issued.expires_at
        got = api.GetCertificate(
            projects_pb2.GetCertificateRequest(certificate_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        assert got == created
        api.DeleteCertificate(
            projects_pb2.DeleteCertificateRequest(certificate_id=created.id),
            metadata=people.owner.metadata,
            timeout=TIMEOUT,
        )
        error = rpc_error(
            api.GetCertificate,
            projects_pb2.GetCertificateRequest(certificate_id=created.id),
            people.owner.metadata,
        )
        assert error.code() == NOT_FOUND
        assert [e.type for e in outbox(stack, created.id)] == [
            "projects.certificate.created",
            "projects.certificate.deleted",
        ]


def refusals(name: str):
    """(what is uploaded, the field named, words of the reason) for a domain `name`."""
    good = self_signed(name)
    chain, ca = issued_by_ca(name)
    return [
        (replace(self_signed(name), private_key=key_pem(new_key())), "private_key", "does not match"),
        (self_signed(f"other-{name}"), "certificate", f"does not cover {name}"),
        (self_signed(f"*.{name}"), "certificate", f"does not cover {name}"),
        (self_signed(name, expires_in=-DAY), "certificate", "expired"),
        (replace(good, certificate="garbage"), "certificate", "is not a PEM certificate"),
        (replace(good, private_key="garbage"), "private_key", "is not a PEM private key"),
        (replace(good, certificate=""), "certificate", "is required"),
        (replace(good, private_key=""), "private_key", "is required"),
        (replace(good, certificate=good.certificate + good.private_key), "certificate", "PRIVATE KEY"),
        (replace(chain, certificate=ca + chain.certificate.removesuffix(ca)), "certificate", "issue"),
    ]


def test_every_failed_check_names_the_field_and_stores_nothing(stack, people, certificates_api):
    domain = new_domain(stack, people.owner)
    for issued, field, reason in refusals(domain["domain"]):
        status, body = upload(stack, people.owner, domain, issued)
        assert status == 400, body
        assert violated_field(body) == field and reason in body["message"], body
        error = rpc_error(
            certificates_api.CreateCertificate,
            projects_pb2.CreateCertificateRequest(
                domain_id=domain["id"],
                certificate=projects_pb2.Certificate(
                    certificate=issued.certificate, private_key=issued.private_key
                ),
            ),
            people.owner.metadata,
        )
        assert error.code() == INVALID and field_of(error) == field
    status, body = upload(stack, people.owner, domain, self_signed(domain["domain"]), issuer="x" * 256)
    assert status == 400 and violated_field(body) == "issuer"
    assert (
        sql_value(stack, "SELECT count(*) FROM certificates WHERE domain_id = $1", uuid.UUID(domain["id"]))
        == 0
    )


def test_renewal_replaces_certificate_and_key_together(stack, people, certificates_api):
    domain = new_domain(stack, people.owner)
    first = add(stack, people.owner, domain, self_signed(domain["domain"], organisation="Old CA"))
    path = f"/v1/certificates/{first['id']}"
    renewed = self_signed(domain["domain"], organisation="New CA", expires_in=200 * DAY)

    for mask, missing in (("certificate", "private_key"), ("private_key", "certificate")):
        status, body = rest(
            stack.port,
            "PATCH",
            f"{path}?update_mask={mask}",
            {"certificate": renewed.certificate, "private_key": renewed.private_key},
            token=people.owner.token,
        )
        assert status == 400 and violated_field(body) == missing, body
    wrong = self_signed(f"x{domain['domain']}")
    status, body = rest(
        stack.port,
        "PATCH",
        f"{path}?update_mask=certificate,private_key",
        {"certificate": wrong.certificate, "private_key": wrong.private_key},
        token=people.owner.token,
    )
    assert status == 400 and violated_field(body) == "certificate"
    assert rest(stack.port, "GET", path, token=people.owner.token)[1] == first

    updated = certificates_api.UpdateCertificate(
        projects_pb2.UpdateCertificateRequest(
            certificate=projects_pb2.Certificate(
                id=first["id"], certificate=renewed.certificate, private_key=renewed.private_key
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["certificate", "private_key"]),
        ),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    assert (updated.certificate, updated.private_key, updated.issuer) == (renewed.certificate, MASK, "New CA")
    assert updated.expires_at.ToDatetime(datetime.UTC) == renewed.expires_at
    revealed = certificates_api.RevealCertificatePrivateKey(
        projects_pb2.RevealCertificatePrivateKeyRequest(certificate_id=first["id"]),
        metadata=people.owner.metadata,
        timeout=TIMEOUT,
    )
    assert revealed.private_key == renewed.private_key

    status, body = rest(
        stack.port, "PATCH", f"{path}?update_mask=issuer", {"issuer": "Renamed"}, token=people.owner.token
    )
    assert status == 200 and body["issuer"] == "Renamed" and body["private_key"] == MASK
    events = outbox(stack, first["id"])
    assert [e.type for e in events] == [
        "projects.certificate.created",
        "projects.certificate.updated",
        "projects.secret.revealed",
        "projects.certificate.updated",
    ]
    assert all(renewed.private_key.encode() not in e.SerializeToString() for e in events)


def test_reveal_is_for_managers_only_and_recorded(stack, people, certificates_api):
    project = create(stack, people.owner, team_id=people.crew.id)
    domain = new_domain(stack, people.owner, project)
    issued = self_signed(domain["domain"])
    certificate = add(stack, people.owner, domain, issued)
    path = f"/v1/certificates/{certificate['id']}:reveal"
    status, body = rest(stack.port, "POST", path, {}, token=people.owner.token)
    assert status == 200 and body["private_key"] == issued.private_key
    [event] = [e for e in outbox(stack, certificate["id"]) if e.type == "projects.secret.revealed"]
    assert event.actor_user_id == people.owner.id
    assert payload(event, events_pb2.SecretRevealed) == events_pb2.SecretRevealed(
        project_id=project["id"],
        resource_type="certificate",
        resource_id=certificate["id"],
        what="private_key",
    )
    assert issued.private_key.encode() not in event.SerializeToString()
    assert rest(stack.port, "POST", path, {}, token=people.admin.token)[0] == 200

    request = projects_pb2.RevealCertificatePrivateKeyRequest(certificate_id=certificate["id"])
    # A team member writes but does not manage; once the read model has the membership they see it.
    eventually(
        lambda: (
            rest(stack.port, "GET", f"/v1/certificates/{certificate['id']}", token=people.member.token)[0]
            == 200
        )
    )
    assert (
        rpc_error(certificates_api.RevealCertificatePrivateKey, request, people.member.metadata).code()
        == DENIED
    )
    assert (
        rpc_error(
            certificates_api.RevealCertificatePrivateKey, request, people.read_only_admin.metadata
        ).code()
        == DENIED
    )
    for stranger in (people.unrelated, people.developer, people.project_limited_admin):
        assert (
            rpc_error(certificates_api.RevealCertificatePrivateKey, request, stranger.metadata).code()
            == NOT_FOUND
        )
    revealed = [e for e in outbox(stack, certificate["id"]) if e.type == "projects.secret.revealed"]
    assert [e.actor_user_id for e in revealed] == [people.owner.id, people.admin.id]


def expiring(stack, account, within_days: int, page_size: int = 100) -> list[dict]:
    """Every page of the caller's expiring list."""
    seen, token = [], ""
    while True:
        status, body = rest(
            stack.port,
            "GET",
            f"/v1/certificates:expiring?within_days={within_days}&page_size={page_size}&page_token={token}",
            token=account.token,
        )
        assert status == 200, body
        seen += body.get("certificates", [])
        token = body.get("next_page_token", "")
        if not token:
            return seen


def test_expiring_certificates_across_the_projects_the_caller_can_see(stack, people, certificates_api):
    crew_project = create(stack, people.owner, team_id=people.crew.id)
    own_project = create(stack, people.owner)
    other_project = create(stack, people.developer)

    def add_expiring(account, project: dict, days: int) -> dict:
        domain = new_domain(stack, account, project)
        return add(stack, account, domain, self_signed(domain["domain"], expires_in=days * DAY))

    crew_soon = add_expiring(people.owner, crew_project, 5)
    own_later = add_expiring(people.owner, own_project, 20)
    own_far = add_expiring(people.owner, own_project, 400)
    other_soon = add_expiring(people.developer, other_project, 10)
    ours = {c["id"] for c in (crew_soon, own_later, own_far, other_soon)}

    def ids(account, within_days: int, page_size: int = 100) -> list[str]:
        listed = expiring(stack, account, within_days, page_size)
        assert [c["expires_at"] for c in listed] == sorted(c["expires_at"] for c in listed)
        assert all(c["private_key"] == MASK for c in listed)
        return [c["id"] for c in listed if c["id"] in ours]

    assert ids(people.owner, 30) == [crew_soon["id"], own_later["id"]]
    assert ids(people.owner, 3650, page_size=1) == [crew_soon["id"], own_later["id"], own_far["id"]]
    assert ids(people.developer, 30) == [other_soon["id"]]
    assert ids(people.admin, 30) == [crew_soon["id"], other_soon["id"], own_later["id"]]
    assert ids(people.unrelated, 3650) == []
    assert ids(people.project_limited_admin, 3650) == []
    eventually(lambda: ids(people.member, 30) == [crew_soon["id"]])
    assert ids(people.read_only_admin, 7) == [crew_soon["id"]]

    default = certificates_api.ListExpiringCertificates(
        projects_pb2.ListExpiringCertificatesRequest(), metadata=people.owner.metadata, timeout=TIMEOUT
    )
    assert [c.id for c in default.certificates if c.id in ours] == [crew_soon["id"], own_later["id"]]
    for within_days in (-1, 3651):
        status, body = rest(
            stack.port,
            "GET",
            f"/v1/certificates:expiring?within_days={within_days}",
            token=people.owner.token,
        )
        assert status == 400 and violated_field(body) == "within_days"


def test_unknown_and_invisible_certificates_are_the_same_not_found(stack, people, certificates_api):
    certificate = add(stack, people.owner, new_domain(stack, people.owner))
    unknown = str(uuid.uuid4())
    missing = rpc_error(
        certificates_api.GetCertificate,
        projects_pb2.GetCertificateRequest(certificate_id=unknown),
        people.unrelated.metadata,
    )
    hidden = rpc_error(
        certificates_api.GetCertificate,
        projects_pb2.GetCertificateRequest(certificate_id=certificate["id"]),
        people.unrelated.metadata,
    )
    assert missing.code() == hidden.code() == NOT_FOUND
    assert missing.details().replace(unknown, "<id>") == hidden.details().replace(certificate["id"], "<id>")
    status, _ = rest(
        stack.port,
        "GET",
        f"/v1/domains/{certificate['domain_id']}/certificates",
        token=people.unrelated.token,
    )
    assert status == 404
    status, _ = upload(stack, people.unrelated, {"id": certificate["domain_id"]}, self_signed(unique("x")))
    assert status == 404
