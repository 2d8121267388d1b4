"""Events never carry a secret value: every secret operation of the projects API is run (env vars
created, updated, made plain, revealed and imported; git source webhook secrets generated, chosen
and rotated; certificate private keys uploaded, renewed and revealed; database credentials
generated and revealed; everything deleted with its project), then every event in the projects
schema's outbox is decoded and searched for each plaintext."""

import uuid

import pytest
from google.protobuf import field_mask_pb2, json_format

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.projects.v1 import events_pb2, projects_pb2, projects_pb2_grpc
from tests.support.calls import TIMEOUT, code_of
from tests.support.certs import self_signed
from tests.support.resources import create, sql, unique

P = projects_pb2
ENV_VARS = projects_pb2_grpc.EnvVarServiceStub
APPLICATIONS = projects_pb2_grpc.ApplicationServiceStub
GIT_SOURCES = projects_pb2_grpc.GitSourceServiceStub
DOMAINS = projects_pb2_grpc.DomainServiceStub
CERTIFICATES = projects_pb2_grpc.CertificateServiceStub
DATABASES = projects_pb2_grpc.DatabaseServiceStub
PROJECTS = projects_pb2_grpc.ProjectServiceStub
MASK = "********"


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def new_secret() -> str:
    return f"plaintext-{uuid.uuid4().hex}"


class Secrets:
    """The plaintexts the operations handled, and a way to call (straight at the projects service,
    as the project's owner unless told otherwise)."""

    def __init__(self, people, channel) -> None:
        self.people = people
        self.channel = channel
        self.plaintexts: list[str] = []

    def keep(self, *plaintexts: str) -> None:
        """Plaintexts to look for; of a PEM also each base64 line, since a fragment leaks too."""
        for plaintext in plaintexts:
            assert plaintext and plaintext != MASK
            self.plaintexts.append(plaintext)
            self.plaintexts += [line for line in plaintext.splitlines() if len(line) >= 40]

    def call(self, stub, method: str, request, account=None):
        account = account or self.people.owner
        return getattr(stub(self.channel), method)(request, metadata=account.metadata, timeout=TIMEOUT)

    def application(self, project_id: str, **kind) -> P.Application:
        kind = kind or {"type": "docker", "source_type": "docker"}
        request = P.CreateApplicationRequest(
            project_id=project_id, application=P.Application(name=unique("app"), **kind)
        )
        return self.call(APPLICATIONS, "CreateApplication", request)

    def secret_env_var(self, app_id: str, key: str) -> str:
        value = new_secret()
        self.keep(value)
        env_var = P.EnvVar(key=key, value=value, is_secret=True)
        self.call(ENV_VARS, "CreateEnvVar", P.CreateEnvVarRequest(application_id=app_id, env_var=env_var))
        return value


def env_var_operations(secrets: Secrets, app_id: str) -> None:
    """Everything done to secret env vars, in an application that stays: a secret a manager made
    plain is a plain value from then on (the events of that change are searched all the same)."""
    member = secrets.people.member
    secrets.secret_env_var(app_id, "API_KEY")
    unsealed = secrets.secret_env_var(app_id, "SHOWN")
    secrets.secret_env_var(app_id, "SWAPPED")
    rotated = new_secret()
    secrets.keep(rotated)
    secrets.call(
        ENV_VARS,
        "UpdateEnvVar",
        P.UpdateEnvVarRequest(
            application_id=app_id, env_var=P.EnvVar(key="API_KEY", value=rotated), update_mask=mask("value")
        ),
        member,
    )
    # A member tries to make a secret plain (refused: test_env_vars.py; whatever the answer, no event
    # may carry the secret); a manager does (a reveal); with a new value a member may.
    unseal = P.UpdateEnvVarRequest(
        application_id=app_id, env_var=P.EnvVar(key="SHOWN", is_secret=False), update_mask=mask("is_secret")
    )
    code_of(ENV_VARS(secrets.channel).UpdateEnvVar, unseal, member.metadata)
    assert secrets.call(ENV_VARS, "UpdateEnvVar", unseal).value == unsealed
    secrets.call(
        ENV_VARS,
        "UpdateEnvVar",
        P.UpdateEnvVarRequest(
            application_id=app_id,
            env_var=P.EnvVar(key="SWAPPED", value="a plain value", is_secret=False),
            update_mask=mask("is_secret", "value"),
        ),
        member,
    )
    reveal = P.RevealEnvVarRequest(application_id=app_id, key="API_KEY")
    assert secrets.call(ENV_VARS, "RevealEnvVar", reveal).value == rotated


def imports(secrets: Secrets, app_id: str) -> None:
    imported, reimported = new_secret(), new_secret()
    secrets.keep(imported, reimported)
    secrets.call(
        ENV_VARS,
        "ImportEnvVars",
        P.ImportEnvVarsRequest(application_id=app_id, dotenv=f"IMPORTED={imported}\nPLAIN=1\n", secret=True),
    )
    # A key that is secret stays secret when plain text imports a new value for it.
    secrets.call(
        ENV_VARS,
        "ImportEnvVars",
        P.ImportEnvVarsRequest(application_id=app_id, dotenv=f"IMPORTED={reimported}\nPLAIN=2\n"),
    )
    reveal = P.RevealEnvVarRequest(application_id=app_id, key="IMPORTED")
    assert secrets.call(ENV_VARS, "RevealEnvVar", reveal).value == reimported


def git_source_operations(secrets: Secrets, project_id: str) -> None:
    generated_for = secrets.application(project_id, type="git", source_type="github")
    created = secrets.call(
        GIT_SOURCES,
        "CreateGitSource",
        P.CreateGitSourceRequest(
            application_id=generated_for.id, git_source=P.GitSource(provider="github", repository="acme/api")
        ),
    )
    secrets.keep(created.webhook_secret)  # generated, shown once
    chosen, rotated = new_secret(), new_secret()
    secrets.keep(chosen, rotated)
    chosen_for = secrets.application(project_id, type="git", source_type="github")
    source = P.GitSource(provider="github", repository="acme/web", webhook_secret=chosen)
    secrets.call(
        GIT_SOURCES,
        "CreateGitSource",
        P.CreateGitSourceRequest(application_id=chosen_for.id, git_source=source),
    )
    secrets.call(
        GIT_SOURCES,
        "UpdateGitSource",
        P.UpdateGitSourceRequest(
            application_id=chosen_for.id,
            git_source=P.GitSource(webhook_secret=rotated),
            update_mask=mask("webhook_secret"),
        ),
    )
    secrets.call(GIT_SOURCES, "DeleteGitSource", P.DeleteGitSourceRequest(application_id=generated_for.id))


def certificate_operations(secrets: Secrets, project_id: str, app_id: str) -> None:
    domain = secrets.call(
        DOMAINS,
        "CreateDomain",
        P.CreateDomainRequest(
            project_id=project_id,
            domain=P.Domain(domain=f"{unique('s')}.example.com", target_type="application", target_id=app_id),
        ),
    )
    issued, renewed = self_signed(domain.domain), self_signed(domain.domain)
    secrets.keep(issued.private_key, renewed.private_key)
    certificate = secrets.call(
        CERTIFICATES,
        "CreateCertificate",
        P.CreateCertificateRequest(
            domain_id=domain.id,
            certificate=P.Certificate(certificate=issued.certificate, private_key=issued.private_key),
        ),
    )
    secrets.call(
        CERTIFICATES,
        "UpdateCertificate",
        P.UpdateCertificateRequest(
            certificate=P.Certificate(
                id=certificate.id, certificate=renewed.certificate, private_key=renewed.private_key
            ),
            update_mask=mask("certificate", "private_key"),
        ),
    )
    reveal = P.RevealCertificatePrivateKeyRequest(certificate_id=certificate.id)
    assert (
        secrets.call(CERTIFICATES, "RevealCertificatePrivateKey", reveal).private_key == renewed.private_key
    )


def database_operations(secrets: Secrets, project_id: str) -> None:
    for kind in ("postgresql", "redis"):
        database = secrets.call(
            DATABASES,
            "CreateDatabase",
            P.CreateDatabaseRequest(project_id=project_id, database=P.Database(name=unique("db"), type=kind)),
        )
        credentials = secrets.call(
            DATABASES,
            "RevealDatabaseCredentials",
            P.RevealDatabaseCredentialsRequest(database_id=database.id),
        )
        secrets.keep(credentials.password, credentials.connection_string)


def projects_events(stack) -> list[Event]:
    return [
        Event.FromString(row["envelope"])
        for row in sql(stack, "projects", "SELECT envelope FROM outbox ORDER BY id")
    ]


def decoded(event: Event) -> str:
    """The event as JSON with its payload unpacked (a payload of a type the projects' events do not
    define fails the test), so a value inside a Struct or a JSON string shows too."""
    assert events_pb2.DESCRIPTOR.pool.FindMessageTypeByName(event.payload.TypeName())
    return json_format.MessageToJson(event)


@pytest.fixture(scope="module")
def secrets(stack, people, projects_channel) -> Secrets:
    """Every secret operation done once: in a project that stays (env vars, with a manager's
    unsealing) and in one deleted with everything in it at the end."""
    secrets = Secrets(people, projects_channel)
    kept = create(stack, people.owner, team_id=people.crew.id)
    env_var_operations(secrets, secrets.application(kept["id"]).id)
    doomed = create(stack, people.owner, team_id=people.crew.id)
    app = secrets.application(doomed["id"])
    secrets.secret_env_var(app.id, "DOOMED")
    imports(secrets, app.id)
    git_source_operations(secrets, doomed["id"])
    certificate_operations(secrets, doomed["id"], app.id)
    database_operations(secrets, doomed["id"])
    secrets.call(PROJECTS, "DeleteProject", P.DeleteProjectRequest(project_id=doomed["id"]))
    return secrets


def test_no_event_carries_a_secret(stack, secrets):
    events = projects_events(stack)
    types = {event.type for event in events}
    # The scan saw the operations' events, reveals and deletions among them.
    assert {
        "projects.env_var.created",
        "projects.env_var.updated",
        "projects.secret.revealed",
        "projects.git_source.created",
        "projects.git_source.updated",
        "projects.certificate.created",
        "projects.certificate.updated",
        "projects.database.created",
        "projects.database.deleted",
        "projects.project.deleted",
    } <= types, types
    leaks = [
        (event.type, event.resource_id)
        for event in events
        for text in (event.SerializeToString(), decoded(event).encode())
        for plaintext in secrets.plaintexts
        if plaintext.encode() in text
    ]
    assert not leaks, f"events carrying a secret: {sorted(set(leaks))}"
