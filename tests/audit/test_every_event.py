"""Every event type in the contract becomes exactly one entry of the trail, filed under the seed's
resource it belongs to, with the actor, client address, user agent and request id of its envelope;
a redelivered event (another message id, the same event id) adds nothing. The cases are written
here, independently of the service's rules, and the first test fails if the contract gains an
event type this table does not know."""

import uuid

import pytest

from dockyard.deployer.v1 import deployer_pb2
from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.identity.v1 import identity_pb2
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard.projects.v1 import projects_pb2
from dockyard_kit import event_catalog
from dockyard_kit.events import new_event
from dockyard_kit.interceptors import RequestInfo
from tests.support.resources import sql
from tests.support.stream import publish
from tests.support.waiting import eventually


def new_id() -> str:
    return str(uuid.uuid4())


PROJECT, TEAM, USER, APP, DATABASE, DOMAIN, ACTOR = (new_id() for _ in range(7))

# payload message -> (payload, the envelope's resource id, (resource_type, resource_id, project_id))
CASES = {
    "UserChanged": lambda: (
        identity_events.UserChanged(user=identity_pb2.User(id=USER, username="casey")),
        USER,
        ("user", USER, None),
    ),
    "UserSessionsRevoked": lambda: (
        identity_events.UserSessionsRevoked(reason="password_changed"),
        USER,
        ("user", USER, None),
    ),
    "LoginAttempted": lambda: (identity_events.LoginAttempted(user_id=USER), USER, ("user", USER, None)),
    "ApiTokenChanged": lambda: (
        identity_events.ApiTokenChanged(token=identity_pb2.ApiToken(id=(token := new_id())), user_id=USER),
        token,
        ("user", USER, None),
    ),
    "SessionRevoked": lambda: (
        identity_events.SessionRevoked(user_id=USER, reason="logout"),
        new_id(),
        ("user", USER, None),
    ),
    "TeamChanged": lambda: (
        identity_events.TeamChanged(team=identity_pb2.Team(id=TEAM)),
        TEAM,
        ("team", TEAM, None),
    ),
    "TeamMemberChanged": lambda: (
        identity_events.TeamMemberChanged(
            member=identity_pb2.TeamMember(id=new_id(), team_id=TEAM, user_id=USER)
        ),
        new_id(),
        ("team", TEAM, None),
    ),
    "TeamInvitationChanged": lambda: (
        identity_events.TeamInvitationChanged(
            invitation=identity_pb2.TeamInvitation(id=new_id(), team_id=TEAM)
        ),
        new_id(),
        ("team", TEAM, None),
    ),
    "ProjectChanged": lambda: (
        projects_events.ProjectChanged(project=projects_pb2.Project(id=PROJECT, owner_id=USER, team_id=TEAM)),
        PROJECT,
        ("project", PROJECT, PROJECT),
    ),
    "ApplicationChanged": lambda: (
        projects_events.ApplicationChanged(application=projects_pb2.Application(id=APP, project_id=PROJECT)),
        APP,
        ("application", APP, PROJECT),
    ),
    "GitSourceChanged": lambda: (
        projects_events.GitSourceChanged(
            git_source=projects_pb2.GitSource(id=new_id(), application_id=APP), project_id=PROJECT
        ),
        new_id(),
        ("application", APP, PROJECT),
    ),
    "EnvVarChanged": lambda: (
        projects_events.EnvVarChanged(
            env_var=projects_pb2.EnvVar(id=new_id(), application_id=APP), project_id=PROJECT
        ),
        new_id(),
        ("application", APP, PROJECT),
    ),
    "VolumeChanged": lambda: (
        projects_events.VolumeChanged(
            volume=projects_pb2.Volume(id=new_id(), project_id=PROJECT, database_id=DATABASE)
        ),
        new_id(),
        ("database", DATABASE, PROJECT),
    ),
    "DomainChanged": lambda: (
        projects_events.DomainChanged(domain=projects_pb2.Domain(id=DOMAIN, project_id=PROJECT)),
        DOMAIN,
        ("domain", DOMAIN, PROJECT),
    ),
    "CertificateChanged": lambda: (
        projects_events.CertificateChanged(
            certificate=projects_pb2.Certificate(id=new_id(), domain_id=DOMAIN, project_id=PROJECT)
        ),
        new_id(),
        ("domain", DOMAIN, PROJECT),
    ),
    "DatabaseChanged": lambda: (
        projects_events.DatabaseChanged(database=projects_pb2.Database(id=DATABASE, project_id=PROJECT)),
        DATABASE,
        ("database", DATABASE, PROJECT),
    ),
    "SecretRevealed": lambda: (
        projects_events.SecretRevealed(
            project_id=PROJECT, resource_type="database", resource_id=DATABASE, what="credentials"
        ),
        DATABASE,
        ("database", DATABASE, PROJECT),
    ),
    "DeploymentChanged": lambda: (
        deployer_events.DeploymentChanged(
            deployment=deployer_pb2.Deployment(
                id=(deployment := new_id()), application_id=APP, project_id=PROJECT
            )
        ),
        deployment,
        ("deployment", deployment, PROJECT),
    ),
    "ApplicationScaled": lambda: (
        deployer_events.ApplicationScaled(application_id=APP, project_id=PROJECT, replicas=2),
        APP,
        ("application", APP, PROJECT),
    ),
}

REQUEST = RequestInfo(
    request_id="req-every", method="", client_ip="198.51.100.23", user_agent="audit-test/1.0"
)


def envelope(event_type: str):
    service, resource, verb = event_type.split(".")
    payload, resource_id, expected = CASES[event_catalog.payloads()[event_type].name]()
    event = new_event(service, resource, verb, resource_id, payload, actor_user_id=ACTOR, request=REQUEST)
    return event, expected


def test_the_table_knows_every_payload_of_the_contract():
    assert {descriptor.name for descriptor in event_catalog.payloads().values()} == set(CASES)


def entries_of(stack, event_ids: list[str]) -> list:
    return sql(
        stack,
        "audit",
        "SELECT event_id::text, action, resource_type, resource_id::text, project_id::text, user_id::text,"
        " host(ip_address) AS ip, user_agent, request_id FROM audit_logs WHERE event_id = ANY($1::uuid[])",
        event_ids,
    )


def test_every_event_type_becomes_one_entry_filed_under_its_resource_even_when_delivered_twice(stack):
    events = {event_type: envelope(event_type) for event_type in sorted(event_catalog.payloads())}
    sent = [event for event, _ in events.values()]
    publish(stack, *sent, *sent)  # each twice, under other message ids: a redelivery

    ids = [event.id for event in sent]
    eventually(lambda: len(entries_of(stack, ids)) >= len(ids) or None, timeout=30)
    rows = entries_of(stack, ids)
    assert sorted(row["event_id"] for row in rows) == sorted(ids), "one entry per event, never two"
    by_event = {row["event_id"]: row for row in rows}
    for event_type, (event, (resource_type, resource_id, project_id)) in events.items():
        row = by_event[event.id]
        filed = (row["action"], row["resource_type"], row["resource_id"], row["project_id"])
        assert filed == (event_type, resource_type, resource_id, project_id), event_type
        assert (row["ip"], row["user_agent"], row["request_id"]) == (
            "198.51.100.23",
            "audit-test/1.0",
            "req-every",
        )
        assert row["user_id"] == ACTOR, event_type


@pytest.mark.parametrize("sent_before", [True, False])
def test_a_revealed_env_var_is_filed_under_its_application_once_the_env_var_is_known(stack, sent_before):
    application, env_var, project = new_id(), new_id(), new_id()
    created = new_event(
        "projects",
        "env_var",
        "created",
        env_var,
        projects_events.EnvVarChanged(
            env_var=projects_pb2.EnvVar(id=env_var, application_id=application), project_id=project
        ),
    )
    revealed = new_event(
        "projects",
        "secret",
        "revealed",
        env_var,
        projects_events.SecretRevealed(
            project_id=project, resource_type="env_var", resource_id=env_var, what="API_KEY"
        ),
    )
    publish(stack, *([created, revealed] if sent_before else [revealed]))
    [row] = eventually(lambda: entries_of(stack, [revealed.id]) or None, timeout=15)
    expected = ("application", application) if sent_before else ("project", project)
    assert (row["resource_type"], row["resource_id"], row["project_id"]) == (*expected, project)
