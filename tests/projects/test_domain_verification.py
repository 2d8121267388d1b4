"""Domain ownership on the running platform, against a real DNS server this module starts
(tests/projects/dns_server.py, the projects service's DOCKYARD_DNS_RESOLVER): a domain is pending
until the TXT record of its challenge is seen, the challenge is shown to the project's writers only,
another tenant can neither take over a verified host name nor learn that anyone holds it, whoever
controls the DNS decides between claims, a platform admin may vouch for a domain, and only writers
may verify."""

import uuid

import grpc
import pytest

from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.projects.dns_server import DnsServer
from tests.support.accounts import create_account
from tests.support.calls import DENIED, NOT_FOUND, TIMEOUT, payload, rest, rpc_error
from tests.support.resources import create, create_domain, host, insert_application, outbox, sql_value, unique
from tests.support.waiting import eventually

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture(scope="module")
def dns():
    with DnsServer() as server:
        yield server


@pytest.fixture(scope="module")
def stack_env(dns) -> dict[str, str]:
    return {"DOCKYARD_DNS_RESOLVER": dns.address, "DOCKYARD_DNS_TIMEOUT_SECONDS": "3"}


@pytest.fixture(scope="module", params=["direct", "gateway"])
def domains_api(request):
    channel = request.getfixturevalue("projects_channel" if request.param == "direct" else "gateway_channel")
    return projects_pb2_grpc.DomainServiceStub(channel)


def claim(stack, account, project: dict | None = None, name: str = "") -> dict:
    """A new domain of `account`'s (in a new project of theirs unless `project` is given)."""
    project = project or create(stack, account)
    return create_domain(
        stack, account, project["id"], insert_application(stack, project["id"]), domain=name or host()
    )


def publish(dns, domain: dict, *also: str) -> None:
    """Puts the domain's challenge in DNS (with `also` beside it)."""
    dns.records.set(domain["verification_record_name"], domain["verification_record_value"], *also)


def verify(api, domain: dict, account) -> projects_pb2.Domain:
    return api.VerifyDomain(
        projects_pb2.VerifyDomainRequest(domain_id=domain["id"]), metadata=account.metadata, timeout=TIMEOUT
    )


def state(stack, domain: dict) -> str:
    return sql_value(
        stack,
        "SELECT CASE WHEN verified_at IS NULL THEN 'pending' ELSE 'verified' END FROM domains WHERE id = $1",
        uuid.UUID(domain["id"]),
    )


def team_viewer(stack, people):
    """A developer who is a viewer in crew, once the projects service knows it."""
    account = create_account(people.channel, people.super_admin, unique("tv")[:20], "developer")
    people.add_member(people.crew, account.user, role="viewer")
    return account


def test_a_new_domain_is_pending_with_a_challenge_only_its_writers_see(stack, people):
    project = create(stack, people.owner, team_id=people.crew.id)
    name = host()
    domain = claim(stack, people.owner, project, name)
    assert domain["verification_state"] == "pending" and "verified_at" not in domain
    assert domain["verification_record_name"] == f"_dockyard-challenge.{name}"
    token = domain["verification_record_value"].removeprefix("dockyard-verify=")
    assert len(token) == 64 and int(token, 16) >= 0
    assert token != claim(stack, people.owner, project)["verification_record_value"].removeprefix(
        "dockyard-verify="
    )

    member_view = eventually(lambda: _get(stack, people.member, domain))
    assert member_view["verification_record_value"] == domain["verification_record_value"]
    viewer = team_viewer(stack, people)
    viewer_view = eventually(lambda: _get(stack, viewer, domain))
    assert viewer_view["verification_state"] == "pending"
    assert not viewer_view.get("verification_record_value") and not viewer_view.get(
        "verification_record_name"
    )
    status, listed = rest(stack.port, "GET", f"/v1/projects/{project['id']}/domains", token=viewer.token)
    assert status == 200 and not any(d.get("verification_record_value") for d in listed["domains"])
    status, listed = rest(
        stack.port, "GET", f"/v1/projects/{project['id']}/domains", token=people.member.token
    )
    assert status == 200 and all(d["verification_record_value"] for d in listed["domains"])
    # Events carry the state, never the token.
    (created,) = outbox(stack, domain["id"])
    message = payload(created, events_pb2.DomainChanged).domain
    assert message.verification_state == "pending" and not message.verification_record_value
    assert token not in created.SerializeToString().decode("latin-1")


def _get(stack, account, domain: dict) -> dict | None:
    status, body = rest(stack.port, "GET", f"/v1/domains/{domain['id']}", token=account.token)
    return body if status == 200 else None


def test_without_the_txt_record_the_domain_stays_pending(stack, people, dns, domains_api):
    domain = claim(stack, people.owner)
    dns.records.set(domain["verification_record_name"], "dockyard-verify=someone-elses-token", "v=spf1 -all")
    error = rpc_error(
        domains_api.VerifyDomain,
        projects_pb2.VerifyDomainRequest(domain_id=domain["id"]),
        people.owner.metadata,
    )
    assert error.code() == FAILED_PRECONDITION
    assert domain["verification_record_name"] in error.details()
    assert domain["verification_record_value"] in error.details()
    assert domain["verification_record_name"] in dns.records.queries
    assert state(stack, domain) == "pending"
    assert _get(stack, people.owner, domain)["verification_state"] == "pending"


def test_with_the_txt_record_the_domain_is_verified(stack, people, dns, domains_api):
    domain = claim(stack, people.owner)
    publish(dns, domain, "v=spf1 -all")
    verified = verify(domains_api, domain, people.owner)
    assert (verified.verification_state, verified.verified_by) == ("verified", "dns")
    assert verified.HasField("verified_at")
    assert state(stack, domain) == "verified"
    # Verified stays verified: a second call changes nothing, even with the record gone.
    dns.records.set(domain["verification_record_name"])
    assert verify(domains_api, domain, people.owner) == verified
    events = outbox(stack, domain["id"])
    assert [e.type for e in events] == ["projects.domain.created", "projects.domain.verified"]
    assert payload(events[1], events_pb2.DomainChanged).domain.verification_state == "verified"


def test_verifying_over_rest(stack, people, dns):
    domain = claim(stack, people.owner)
    status, body = rest(
        stack.port, "POST", f"/v1/domains/{domain['id']}:verify", {}, token=people.owner.token
    )
    assert status == 400 and domain["verification_record_name"] in body["message"], body
    publish(dns, domain)
    status, body = rest(
        stack.port, "POST", f"/v1/domains/{domain['id']}:verify", {}, token=people.owner.token
    )
    assert status == 200 and body["verification_state"] == "verified", body


def test_another_tenant_can_neither_take_over_a_verified_host_nor_learn_of_it(
    stack, people, dns, domains_api
):
    name = host()
    held = claim(stack, people.owner, name=name)
    publish(dns, held)
    verify(domains_api, held, people.owner)

    # The same answers as for a host name nobody holds, but for the names and the token.
    taken = claim(stack, people.developer, name=name)
    fresh = claim(stack, people.developer)
    for body in (taken, fresh):
        assert body["verification_state"] == "pending"
    assert set(taken) == set(fresh)
    answers = []
    for body in (taken, fresh):
        error = rpc_error(
            domains_api.VerifyDomain,
            projects_pb2.VerifyDomainRequest(domain_id=body["id"]),
            people.developer.metadata,
        )
        token = body["verification_record_value"].removeprefix("dockyard-verify=")
        answers.append(
            (error.code(), error.details().replace(body["domain"], "<host>").replace(token, "<token>"))
        )
    assert answers[0] == answers[1] and answers[0][0] == FAILED_PRECONDITION
    # Their claim shows nothing of the other project's either.
    status, seen = rest(stack.port, "GET", f"/v1/domains/{taken['id']}", token=people.developer.token)
    assert status == 200 and held["id"] not in str(seen) and held["project_id"] not in str(seen)
    assert (state(stack, held), state(stack, taken)) == ("verified", "pending")
    # Nor can they reach the verified claim itself.
    error = rpc_error(
        domains_api.VerifyDomain,
        projects_pb2.VerifyDomainRequest(domain_id=held["id"]),
        people.developer.metadata,
    )
    assert error.code() == NOT_FOUND


def test_whoever_controls_the_dns_decides_between_claims(stack, people, dns, domains_api):
    name = host()
    first = claim(stack, people.owner, name=name)
    second = claim(stack, people.developer, name=name)
    publish(dns, first)
    verify(domains_api, first, people.owner)
    # Both records in place: the verified claim keeps the host name.
    publish(dns, second, first["verification_record_value"])
    error = rpc_error(
        domains_api.VerifyDomain,
        projects_pb2.VerifyDomainRequest(domain_id=second["id"]),
        people.developer.metadata,
    )
    assert error.code() == FAILED_PRECONDITION and "another project" in error.details()
    assert (state(stack, first), state(stack, second)) == ("verified", "pending")
    # The DNS owner removes the first project's record: the host name moves.
    publish(dns, second)
    assert verify(domains_api, second, people.developer).verification_state == "verified"
    now_first = _get(stack, people.owner, first)
    assert now_first["verification_state"] == "pending"
    assert now_first["verification_record_value"] != first["verification_record_value"]
    assert [e.type for e in outbox(stack, first["id"])][-1] == "projects.domain.unverified"
    assert (
        sql_value(stack, "SELECT count(*) FROM domains WHERE domain = $1 AND verified_at IS NOT NULL", name)
        == 1
    )


def test_an_admin_may_mark_a_domain_verified_and_nobody_else(stack, people, dns, domains_api):
    project = create(stack, people.owner, team_id=people.crew.id)
    domain = claim(stack, people.owner, project)
    request = projects_pb2.MarkDomainVerifiedRequest(domain_id=domain["id"])
    for account in (people.owner, people.member, people.read_only_admin):
        assert rpc_error(domains_api.MarkDomainVerified, request, account.metadata).code() == DENIED
    for account in (people.developer, people.project_limited_admin):
        assert rpc_error(domains_api.MarkDomainVerified, request, account.metadata).code() == NOT_FOUND
    assert state(stack, domain) == "pending"
    queries = len(dns.records.queries)
    marked = domains_api.MarkDomainVerified(request, metadata=people.admin.metadata, timeout=TIMEOUT)
    assert (marked.verification_state, marked.verified_by) == ("verified", "admin")
    assert state(stack, domain) == "verified" and len(dns.records.queries) == queries
    assert [e.type for e in outbox(stack, domain["id"])][-1] == "projects.domain.verified"
    assert outbox(stack, domain["id"])[-1].actor_user_id == people.admin.id


def test_a_member_without_write_rights_cannot_verify(stack, people, dns, domains_api):
    project = create(stack, people.owner, team_id=people.crew.id)
    domain = claim(stack, people.owner, project)
    publish(dns, domain)
    viewer = team_viewer(stack, people)
    eventually(lambda: _get(stack, viewer, domain))
    request = projects_pb2.VerifyDomainRequest(domain_id=domain["id"])
    for account in (viewer, people.read_only_admin):
        assert rpc_error(domains_api.VerifyDomain, request, account.metadata).code() == DENIED
    for account in (people.viewer, people.unrelated):
        assert rpc_error(domains_api.VerifyDomain, request, account.metadata).code() == NOT_FOUND
    assert state(stack, domain) == "pending"
    assert verify(domains_api, domain, people.member).verification_state == "verified"


def test_two_projects_verifying_one_host_name_at_once_verify_one_claim(stack, people, dns, gateway_channel):
    """Both records in place, both verifications at the same moment: the host name's verifications
    are serialized, so one wins and the other is told another project holds it."""
    name = host()
    claims = [
        (claim(stack, people.owner, name=name), people.owner),
        (claim(stack, people.developer, name=name), people.developer),
    ]
    dns.records.set(
        claims[0][0]["verification_record_name"], *(c["verification_record_value"] for c, _ in claims)
    )
    api = projects_pb2_grpc.DomainServiceStub(gateway_channel)
    calls = [
        api.VerifyDomain.future(
            projects_pb2.VerifyDomainRequest(domain_id=domain["id"]),
            metadata=account.metadata,
            timeout=TIMEOUT,
        )
        for domain, account in claims
    ]
    codes = sorted(call.code().name for call in calls)
    assert codes == ["FAILED_PRECONDITION", "OK"]
    assert (
        sql_value(stack, "SELECT count(*) FROM domains WHERE domain = $1 AND verified_at IS NOT NULL", name)
        == 1
    )
