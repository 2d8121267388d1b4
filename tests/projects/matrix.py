"""The projects authorization matrix: every kind of caller, what each may do to one project (and
everything in it), and a table of RPCs with the access level each needs (domain/access.py).

A Cast is the callers, set up on a running platform around the target project: its owner (who
administers its team), the team's owner, admin, member and viewer, a platform viewer who is a team
member, the platform's super_admin, admin, an unrelated developer and a viewer, a read-only token of
the owner, the owner's read-write tokens limited to the project and to another project, and nobody.
"""

import enum
import uuid

import grpc
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from tests.support.accounts import Account, People, api_token_access, create_account
from tests.support.authorization import Case
from tests.support.calls import DENIED, NOT_FOUND, OK, TIMEOUT, UNAUTHENTICATED
from tests.support.certs import self_signed
from tests.support.resources import unique
from tests.support.waiting import eventually


class Level(enum.IntEnum):
    """What an RPC needs: LIST and CREATE need no project; the rest as domain/access.Level."""

    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3
    OWN = 4
    LIST = 10
    CREATE = 11


# Each caller's level on the target project (None: not signed in).
CALLER_LEVELS: dict[str, Level | None] = {
    "super_admin": Level.OWN,
    "admin": Level.OWN,
    "developer": Level.NONE,
    "viewer": Level.NONE,
    "owner": Level.OWN,
    "team_owner": Level.MANAGE,
    "team_admin": Level.MANAGE,
    "team_member": Level.WRITE,
    "team_viewer": Level.READ,
    "viewer_in_team": Level.READ,
    "read_only": Level.READ,
    "limited_here": Level.OWN,
    "limited_elsewhere": Level.NONE,
    "anonymous": None,
}

# Who may create a project: a read-write, unlimited token of a developer or above.
CREATORS = {
    "super_admin",
    "admin",
    "developer",
    "owner",
    "team_owner",
    "team_admin",
    "team_member",
    "team_viewer",
}


def expected(caller: str, needed: Level) -> grpc.StatusCode:
    level = CALLER_LEVELS[caller]
    if level is None:
        return UNAUTHENTICATED
    if needed == Level.LIST:
        return OK
    if needed == Level.CREATE:
        return OK if caller in CREATORS else DENIED
    if level == Level.NONE:
        return NOT_FOUND
    return OK if level >= needed else DENIED


HTTP_STATUS = {OK: 200, DENIED: 403, NOT_FOUND: 404, UNAUTHENTICATED: 401}


class Cast:
    """The callers and the target project on one platform; `fresh_project()` for destructive cases."""

    def __init__(self, people: People, identity_channel, projects_channel) -> None:
        self.people = people
        self.channel = identity_channel
        self.projects = projects_pb2_grpc.ProjectServiceStub(projects_channel)
        root = people.super_admin
        teams = identity_pb2_grpc.TeamServiceStub(identity_channel)
        self.accounts: dict[str, Account] = {
            name: getattr(people, name) for name in ("super_admin", "admin", "developer", "viewer", "owner")
        }
        self.accounts["anonymous"] = people.anonymous
        captain = create_account(identity_channel, root, unique("captain")[:20], "developer")
        self.team = teams.CreateTeam(
            identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=unique("matrix"))),
            metadata=captain.metadata,
            timeout=TIMEOUT,
        )
        self.accounts["team_owner"] = captain
        members = {"owner": ("admin", people.owner)}
        for role in ("admin", "member", "viewer"):
            members[f"team_{role}"] = (
                role,
                create_account(identity_channel, root, unique(f"t{role}")[:20], "developer"),
            )
        members["viewer_in_team"] = (
            "member",
            create_account(identity_channel, root, unique("pviewer")[:20], "viewer"),
        )
        for name, (role, account) in members.items():
            teams.AddTeamMember(
                identity_pb2.AddTeamMemberRequest(
                    team_id=self.team.id, member=identity_pb2.TeamMember(user_id=account.id, role=role)
                ),
                metadata=root.metadata,  # a platform admin adds directly; owners invite
                timeout=TIMEOUT,
            )
            self.accounts[name] = account
        self.project = self.fresh_project()
        owner = people.owner
        self.accounts["read_only"] = api_token_access(
            identity_channel, owner, unique("ro"), scope="read_only"
        )
        self.accounts["limited_here"] = self.limited_to(self.project.id)
        self.accounts["limited_elsewhere"] = self.limited_to(str(uuid.uuid4()))
        self.contents = Contents(self, projects_channel)
        # Every membership has reached the projects service's read model.
        request = projects_pb2.GetProjectRequest(project_id=self.project.id)
        for name in ("team_owner", "team_admin", "team_member", "team_viewer", "viewer_in_team"):
            eventually(lambda name=name: self.succeeds(self.projects.GetProject, request, name))

    def metadata(self, caller: str, project_id: str = "") -> tuple:
        """The caller's credentials for a request on `project_id` (the target project by default):
        the project-limited token "here" is minted for a fresh project."""
        if caller == "limited_here" and project_id and project_id != self.project.id:
            return self.limited_to(project_id).metadata
        return self.accounts[caller].metadata

    def limited_to(self, project_id: str) -> Account:
        return api_token_access(
            self.channel, self.people.owner, unique("lim"), scope="read_write", project_ids=[project_id]
        )

    def succeeds(self, method, request, caller: str) -> bool:
        try:
            method(request, metadata=self.accounts[caller].metadata, timeout=TIMEOUT)
        except grpc.RpcError:
            return False
        return True

    def fresh_project(self) -> projects_pb2.Project:
        """A new project of the owner's in the team (retried until projects knows the owner is a
        team admin)."""

        def create():
            project = projects_pb2.Project(name=unique("target"), team_id=self.team.id)
            try:
                return self.projects.CreateProject(
                    projects_pb2.CreateProjectRequest(project=project),
                    metadata=self.people.owner.metadata,
                    timeout=TIMEOUT,
                )
            except grpc.RpcError as error:
                if error.code() != DENIED:
                    raise
                return None

        return eventually(create)


def case(stub, method: str, needed: Level, call, *, effect=None, variant: str = "") -> Case:
    """A row of the table: the RPC, the level it needs (so the code each caller expects), and
    `call(cast, caller)`: its request and the caller's credentials for it (a destructive RPC makes a
    fresh target each time); `effect(cast, caller, request)`: whether the change happened."""
    expected_codes = {caller: expected(caller, needed) for caller in CALLER_LEVELS}
    return Case(stub, method, expected_codes, call, variant, effect)


def as_owner(cast: "Cast", stub, method: str, request):
    """A read of what a row changed, by the project's owner straight at the projects service."""
    return getattr(stub(cast.contents.channel), method)(
        request, metadata=cast.people.owner.metadata, timeout=TIMEOUT
    )


def gone(stub, method: str, get_request):
    """An effect: the owner's `method(get_request(request))` is NOT_FOUND (the row was deleted)."""

    def effect(cast: "Cast", caller: str, request) -> bool:
        try:
            as_owner(cast, stub, method, get_request(request))
        except grpc.RpcError as error:
            if error.code() != NOT_FOUND:
                raise
            return True
        return False

    return effect


def on_target(build):
    """A request on the target project (it survives the call)."""
    return lambda cast, caller: (build(cast, caller), cast.metadata(caller))


def delete_project(cast: Cast, caller: str):
    project = cast.fresh_project()
    return projects_pb2.DeleteProjectRequest(project_id=project.id), cast.metadata(caller, project.id)


def update_project(cast: Cast, caller: str):
    return projects_pb2.UpdateProjectRequest(
        project=projects_pb2.Project(id=cast.project.id, description=f"by {caller} {uuid.uuid4().hex[:8]}"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
    )


def detach_project(cast: Cast, caller: str):
    """Out of its team (a fresh project each time): moving a project is its owner's act."""
    project = cast.fresh_project()
    request = projects_pb2.UpdateProjectRequest(
        project=projects_pb2.Project(id=project.id, team_id=""),
        update_mask=field_mask_pb2.FieldMask(paths=["team_id"]),
    )
    return request, cast.metadata(caller, project.id)


def detached(cast: Cast, caller: str, request) -> bool:
    get = projects_pb2.GetProjectRequest(project_id=request.project.id)
    return as_owner(cast, PROJECTS, "GetProject", get).team_id == ""


def description_set(cast: Cast, caller: str, request) -> bool:
    get = projects_pb2.GetProjectRequest(project_id=request.project.id)
    return as_owner(cast, PROJECTS, "GetProject", get).description == request.project.description


PROJECTS = projects_pb2_grpc.ProjectServiceStub

CASES = [
    case(
        PROJECTS,
        "ListProjects",
        Level.LIST,
        on_target(lambda cast, caller: projects_pb2.ListProjectsRequest()),
    ),
    case(
        PROJECTS,
        "GetProject",
        Level.READ,
        on_target(lambda cast, caller: projects_pb2.GetProjectRequest(project_id=cast.project.id)),
    ),
    case(
        PROJECTS,
        "GetProjectStats",
        Level.READ,
        on_target(lambda cast, caller: projects_pb2.GetProjectStatsRequest(project_id=cast.project.id)),
    ),
    case(
        PROJECTS,
        "CreateProject",
        Level.CREATE,
        on_target(
            lambda cast, caller: projects_pb2.CreateProjectRequest(
                project=projects_pb2.Project(name=unique("new"))
            )
        ),
    ),
    case(PROJECTS, "UpdateProject", Level.MANAGE, on_target(update_project), effect=description_set),
    case(PROJECTS, "UpdateProject", Level.OWN, detach_project, effect=detached, variant="team_id"),
    case(
        PROJECTS,
        "DeleteProject",
        Level.OWN,
        delete_project,
        effect=gone(
            PROJECTS, "GetProject", lambda r: projects_pb2.GetProjectRequest(project_id=r.project_id)
        ),
    ),
]


def listing(stub, method: str, message) -> Case:
    """A list of what is in the target project: READ."""
    return case(stub, method, Level.READ, on_target(lambda cast, caller: message(project_id=cast.project.id)))


CASES += [
    listing(
        projects_pb2_grpc.ApplicationServiceStub, "ListApplications", projects_pb2.ListApplicationsRequest
    ),
    listing(projects_pb2_grpc.VolumeServiceStub, "ListVolumes", projects_pb2.ListVolumesRequest),
    listing(projects_pb2_grpc.DomainServiceStub, "ListDomains", projects_pb2.ListDomainsRequest),
    listing(projects_pb2_grpc.DatabaseServiceStub, "ListDatabases", projects_pb2.ListDatabasesRequest),
]


# -- everything inside the project --------------------------------------------------------------

APPLICATIONS = projects_pb2_grpc.ApplicationServiceStub
GIT_SOURCES = projects_pb2_grpc.GitSourceServiceStub
ENV_VARS = projects_pb2_grpc.EnvVarServiceStub
VOLUMES = projects_pb2_grpc.VolumeServiceStub
DOMAINS = projects_pb2_grpc.DomainServiceStub
CERTIFICATES = projects_pb2_grpc.CertificateServiceStub
DATABASES = projects_pb2_grpc.DatabaseServiceStub


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


class Contents:
    """Resources in the target project, made by its owner straight at the projects service: one
    of each that the cases read or change in place, and fresh ones for the cases that destroy."""

    def __init__(self, cast: Cast, projects_channel) -> None:
        self.cast = cast
        self.channel = projects_channel
        self.app = self.application()
        self.git_app = self.application(git_source=True)
        self.env_key = self.env_var(self.app.id)
        self.volume = self.new_volume()
        self.domain = self.new_domain()
        self.verified_domain = self.marked_verified(self.new_domain())
        self.certificate = self.new_certificate(self.domain)
        self.database = self.new_database()

    def _call(self, stub, method: str, request):
        return getattr(stub(self.channel), method)(
            request, metadata=self.cast.people.owner.metadata, timeout=TIMEOUT
        )

    def application(self, *, git_source: bool = False, archived: bool = False) -> projects_pb2.Application:
        kind = (
            {"type": "git", "source_type": "github"}
            if git_source
            else {"type": "docker", "source_type": "docker"}
        )
        app = self._call(
            APPLICATIONS,
            "CreateApplication",
            projects_pb2.CreateApplicationRequest(
                project_id=self.cast.project.id,
                application=projects_pb2.Application(name=unique("app"), **kind),
            ),
        )
        if git_source:
            self._call(
                GIT_SOURCES,
                "CreateGitSource",
                projects_pb2.CreateGitSourceRequest(
                    application_id=app.id,
                    git_source=projects_pb2.GitSource(provider="github", repository="acme/api"),
                ),
            )
        if archived:
            app = self._call(
                APPLICATIONS,
                "DeleteApplication",
                projects_pb2.DeleteApplicationRequest(application_id=app.id),
            )
        return app

    def bare_git_application(self) -> projects_pb2.Application:
        return self._call(
            APPLICATIONS,
            "CreateApplication",
            projects_pb2.CreateApplicationRequest(
                project_id=self.cast.project.id,
                application=projects_pb2.Application(name=unique("git"), type="git", source_type="github"),
            ),
        )

    def env_var(self, application_id: str) -> str:
        key = f"SECRET_{uuid.uuid4().hex[:8].upper()}"
        self._call(
            ENV_VARS,
            "CreateEnvVar",
            projects_pb2.CreateEnvVarRequest(
                application_id=application_id,
                env_var=projects_pb2.EnvVar(key=key, value="s3cret", is_secret=True),
            ),
        )
        return key

    def new_volume(self) -> projects_pb2.Volume:
        return self._call(
            VOLUMES,
            "CreateVolume",
            projects_pb2.CreateVolumeRequest(
                project_id=self.cast.project.id,
                volume=projects_pb2.Volume(name=unique("vol"), mount_path="/data", size_gb=1),
            ),
        )

    def new_domain(self) -> projects_pb2.Domain:
        return self._call(
            DOMAINS,
            "CreateDomain",
            projects_pb2.CreateDomainRequest(
                project_id=self.cast.project.id,
                domain=projects_pb2.Domain(
                    domain=f"{unique('d')}.example.com", target_type="application", target_id=self.app.id
                ),
            ),
        )

    def marked_verified(self, domain: projects_pb2.Domain) -> projects_pb2.Domain:
        """The domain, vouched for by a platform admin (so verifying it needs no DNS)."""
        return projects_pb2_grpc.DomainServiceStub(self.channel).MarkDomainVerified(
            projects_pb2.MarkDomainVerifiedRequest(domain_id=domain.id),
            metadata=self.cast.people.admin.metadata,
            timeout=TIMEOUT,
        )

    def new_certificate(self, domain: projects_pb2.Domain) -> projects_pb2.Certificate:
        issued = self_signed(domain.domain)
        return self._call(
            CERTIFICATES,
            "CreateCertificate",
            projects_pb2.CreateCertificateRequest(
                domain_id=domain.id,
                certificate=projects_pb2.Certificate(
                    certificate=issued.certificate, private_key=issued.private_key
                ),
            ),
        )

    def new_database(self) -> projects_pb2.Database:
        return self._call(
            DATABASES,
            "CreateDatabase",
            projects_pb2.CreateDatabaseRequest(
                project_id=self.cast.project.id,
                database=projects_pb2.Database(name=unique("db"), type="postgresql"),
            ),
        )


def inside(stub, method: str, needed: Level, build, *, effect=None, variant: str = "") -> Case:
    """A request on the target project's contents (`build(contents, caller)`); a destructive one
    makes what it destroys inside `build`."""
    return case(
        stub,
        method,
        needed,
        lambda cast, caller: (build(cast.contents, caller), cast.metadata(caller)),
        effect=effect,
        variant=variant,
    )


def archived(cast: Cast, caller: str, request) -> bool:
    get = P.GetApplicationRequest(application_id=request.application_id)
    return as_owner(cast, APPLICATIONS, "GetApplication", get).HasField("deleted_at")


def made_plain(cast: Cast, caller: str, request) -> bool:
    """The secret of an UpdateEnvVar row is plain now (with the request's value, when it gave one)."""
    get = P.GetEnvVarRequest(application_id=request.application_id, key=request.env_var.key)
    env_var = as_owner(cast, ENV_VARS, "GetEnvVar", get)
    return not env_var.is_secret and (
        "value" not in request.update_mask.paths or env_var.value == request.env_var.value
    )


def admin_only(stub, method: str, build, *, effect=None) -> Case:
    """`inside` for an act of a platform admin's (a read-write token): everyone else who sees the
    project is PERMISSION_DENIED, whatever their level on it."""
    codes = {}
    for caller in CALLER_LEVELS:
        code = expected(caller, Level.READ)
        codes[caller] = code if code != OK or caller in ("super_admin", "admin") else DENIED
    return Case(
        stub,
        method,
        codes,
        lambda cast, caller: (build(cast.contents, caller), cast.metadata(caller)),
        effect=effect,
    )


def verified(cast: Cast, caller: str, request) -> bool:
    """An effect: the domain of `request` is verified now."""
    domain = as_owner(cast, DOMAINS, "GetDomain", projects_pb2.GetDomainRequest(domain_id=request.domain_id))
    return domain.verification_state == "verified"


def renewal(contents: Contents) -> projects_pb2.Certificate:
    issued = self_signed(contents.domain.domain)
    return projects_pb2.Certificate(
        id=contents.certificate.id, certificate=issued.certificate, private_key=issued.private_key
    )


P = projects_pb2
CONTENT_CASES = [
    # Applications
    inside(
        APPLICATIONS,
        "GetApplication",
        Level.READ,
        lambda c, _: P.GetApplicationRequest(application_id=c.app.id),
    ),
    inside(
        APPLICATIONS,
        "CreateApplication",
        Level.WRITE,
        lambda c, _: P.CreateApplicationRequest(
            project_id=c.cast.project.id, application=P.Application(name=unique("new"), type="docker")
        ),
    ),
    inside(
        APPLICATIONS,
        "UpdateApplication",
        Level.WRITE,
        lambda c, _: P.UpdateApplicationRequest(
            application=P.Application(id=c.app.id, replicas=2), update_mask=mask("replicas")
        ),
    ),
    inside(
        APPLICATIONS,
        "ScaleApplication",
        Level.WRITE,
        lambda c, _: P.ScaleApplicationRequest(application_id=c.app.id, replicas=1),
    ),
    inside(
        APPLICATIONS,
        "DeleteApplication",
        Level.MANAGE,
        lambda c, _: P.DeleteApplicationRequest(application_id=c.application().id),
        effect=archived,
    ),
    inside(
        APPLICATIONS,
        "RestoreApplication",
        Level.MANAGE,
        lambda c, _: P.RestoreApplicationRequest(application_id=c.application(archived=True).id),
    ),
    inside(
        APPLICATIONS,
        "PurgeApplication",
        Level.MANAGE,
        lambda c, _: P.PurgeApplicationRequest(application_id=c.application(archived=True).id),
    ),
    # Git sources
    inside(
        GIT_SOURCES,
        "GetGitSource",
        Level.READ,
        lambda c, _: P.GetGitSourceRequest(application_id=c.git_app.id),
    ),
    inside(
        GIT_SOURCES,
        "CreateGitSource",
        Level.WRITE,
        lambda c, _: P.CreateGitSourceRequest(
            application_id=c.bare_git_application().id,
            git_source=P.GitSource(provider="gitlab", repository="acme/web"),
        ),
    ),
    inside(
        GIT_SOURCES,
        "UpdateGitSource",
        Level.WRITE,
        lambda c, _: P.UpdateGitSourceRequest(
            application_id=c.git_app.id, git_source=P.GitSource(branch="develop"), update_mask=mask("branch")
        ),
    ),
    inside(
        GIT_SOURCES,
        "DeleteGitSource",
        Level.WRITE,
        lambda c, _: P.DeleteGitSourceRequest(application_id=c.application(git_source=True).id),
        effect=gone(
            GIT_SOURCES, "GetGitSource", lambda r: P.GetGitSourceRequest(application_id=r.application_id)
        ),
    ),
    # Env vars
    inside(ENV_VARS, "ListEnvVars", Level.READ, lambda c, _: P.ListEnvVarsRequest(application_id=c.app.id)),
    inside(
        ENV_VARS,
        "GetEnvVar",
        Level.READ,
        lambda c, _: P.GetEnvVarRequest(application_id=c.app.id, key=c.env_key),
    ),
    inside(
        ENV_VARS,
        "CreateEnvVar",
        Level.WRITE,
        lambda c, _: P.CreateEnvVarRequest(
            application_id=c.app.id, env_var=P.EnvVar(key=f"K_{uuid.uuid4().hex[:8].upper()}", value="v")
        ),
    ),
    inside(
        ENV_VARS,
        "UpdateEnvVar",
        Level.WRITE,
        lambda c, _: P.UpdateEnvVarRequest(
            application_id=c.app.id,
            env_var=P.EnvVar(key=c.env_key, value="changed"),
            update_mask=mask("value"),
        ),
    ),
    inside(
        ENV_VARS,
        "DeleteEnvVar",
        Level.WRITE,
        lambda c, _: P.DeleteEnvVarRequest(application_id=c.app.id, key=c.env_var(c.app.id)),
        effect=gone(
            ENV_VARS, "GetEnvVar", lambda r: P.GetEnvVarRequest(application_id=r.application_id, key=r.key)
        ),
    ),
    # Field level: making a secret plain without a new value reveals it (a manager's act); with a
    # new value nothing of the secret is shown (a writer's). Each makes a fresh secret plain.
    inside(
        ENV_VARS,
        "UpdateEnvVar",
        Level.MANAGE,
        lambda c, _: P.UpdateEnvVarRequest(
            application_id=c.app.id,
            env_var=P.EnvVar(key=c.env_var(c.app.id), is_secret=False),
            update_mask=mask("is_secret"),
        ),
        effect=made_plain,
        variant="is_secret",
    ),
    inside(
        ENV_VARS,
        "UpdateEnvVar",
        Level.WRITE,
        lambda c, _: P.UpdateEnvVarRequest(
            application_id=c.app.id,
            env_var=P.EnvVar(key=c.env_var(c.app.id), value="plain-now", is_secret=False),
            update_mask=mask("is_secret", "value"),
        ),
        effect=made_plain,
        variant="is_secret,value",
    ),
    inside(
        ENV_VARS,
        "ImportEnvVars",
        Level.WRITE,
        lambda c, _: P.ImportEnvVarsRequest(application_id=c.app.id, dotenv="MATRIX_IMPORT=1\n"),
    ),
    inside(
        ENV_VARS,
        "RevealEnvVar",
        Level.MANAGE,
        lambda c, _: P.RevealEnvVarRequest(application_id=c.app.id, key=c.env_key),
    ),
    # Volumes
    inside(VOLUMES, "GetVolume", Level.READ, lambda c, _: P.GetVolumeRequest(volume_id=c.volume.id)),
    inside(
        VOLUMES,
        "CreateVolume",
        Level.WRITE,
        lambda c, _: P.CreateVolumeRequest(
            project_id=c.cast.project.id, volume=P.Volume(name=unique("vol"), mount_path="/srv", size_gb=1)
        ),
    ),
    inside(
        VOLUMES,
        "UpdateVolume",
        Level.WRITE,
        lambda c, _: P.UpdateVolumeRequest(
            volume=P.Volume(id=c.volume.id, size_gb=2), update_mask=mask("size_gb")
        ),
    ),
    inside(
        VOLUMES,
        "DeleteVolume",
        Level.WRITE,
        lambda c, _: P.DeleteVolumeRequest(volume_id=c.new_volume().id),
        effect=gone(VOLUMES, "GetVolume", lambda r: P.GetVolumeRequest(volume_id=r.volume_id)),
    ),
    # Domains
    inside(DOMAINS, "GetDomain", Level.READ, lambda c, _: P.GetDomainRequest(domain_id=c.domain.id)),
    inside(
        DOMAINS,
        "CreateDomain",
        Level.WRITE,
        lambda c, _: P.CreateDomainRequest(
            project_id=c.cast.project.id,
            domain=P.Domain(
                domain=f"{unique('n')}.example.org", target_type="application", target_id=c.app.id
            ),
        ),
    ),
    inside(
        DOMAINS,
        "UpdateDomain",
        Level.WRITE,
        lambda c, _: P.UpdateDomainRequest(
            domain=P.Domain(id=c.domain.id, tls_enabled=True), update_mask=mask("tls_enabled")
        ),
    ),
    inside(
        DOMAINS,
        "DeleteDomain",
        Level.WRITE,
        lambda c, _: P.DeleteDomainRequest(domain_id=c.new_domain().id),
        effect=gone(DOMAINS, "GetDomain", lambda r: P.GetDomainRequest(domain_id=r.domain_id)),
    ),
    # An already verified domain: the access check comes first, and no DNS is asked.
    inside(
        DOMAINS,
        "VerifyDomain",
        Level.WRITE,
        lambda c, _: P.VerifyDomainRequest(domain_id=c.verified_domain.id),
    ),
    admin_only(
        DOMAINS,
        "MarkDomainVerified",
        lambda c, _: P.MarkDomainVerifiedRequest(domain_id=c.new_domain().id),
        effect=verified,
    ),
    # Certificates
    inside(
        CERTIFICATES,
        "ListCertificates",
        Level.READ,
        lambda c, _: P.ListCertificatesRequest(domain_id=c.domain.id),
    ),
    inside(
        CERTIFICATES,
        "GetCertificate",
        Level.READ,
        lambda c, _: P.GetCertificateRequest(certificate_id=c.certificate.id),
    ),
    inside(
        CERTIFICATES,
        "CreateCertificate",
        Level.WRITE,
        lambda c, _: P.CreateCertificateRequest(
            domain_id=c.domain.id,
            certificate=P.Certificate(
                certificate=(issued := self_signed(c.domain.domain)).certificate,
                private_key=issued.private_key,
            ),
        ),
    ),
    inside(
        CERTIFICATES,
        "UpdateCertificate",
        Level.WRITE,
        lambda c, _: P.UpdateCertificateRequest(
            certificate=renewal(c), update_mask=mask("certificate", "private_key")
        ),
    ),
    inside(
        CERTIFICATES,
        "DeleteCertificate",
        Level.WRITE,
        lambda c, _: P.DeleteCertificateRequest(certificate_id=c.new_certificate(c.domain).id),
        effect=gone(
            CERTIFICATES, "GetCertificate", lambda r: P.GetCertificateRequest(certificate_id=r.certificate_id)
        ),
    ),
    inside(
        CERTIFICATES,
        "RevealCertificatePrivateKey",
        Level.MANAGE,
        lambda c, _: P.RevealCertificatePrivateKeyRequest(certificate_id=c.certificate.id),
    ),
    inside(
        CERTIFICATES,
        "ListExpiringCertificates",
        Level.LIST,
        lambda c, _: P.ListExpiringCertificatesRequest(within_days=3650),
    ),
    # Databases
    inside(
        DATABASES, "GetDatabase", Level.READ, lambda c, _: P.GetDatabaseRequest(database_id=c.database.id)
    ),
    inside(
        DATABASES,
        "CreateDatabase",
        Level.WRITE,
        lambda c, _: P.CreateDatabaseRequest(
            project_id=c.cast.project.id, database=P.Database(name=unique("db"), type="redis")
        ),
    ),
    inside(
        DATABASES,
        "UpdateDatabase",
        Level.WRITE,
        lambda c, _: P.UpdateDatabaseRequest(
            database=P.Database(id=c.database.id, version="17"), update_mask=mask("version")
        ),
    ),
    inside(
        DATABASES,
        "DeleteDatabase",
        Level.WRITE,
        lambda c, _: P.DeleteDatabaseRequest(database_id=c.new_database().id),
        effect=gone(DATABASES, "GetDatabase", lambda r: P.GetDatabaseRequest(database_id=r.database_id)),
    ),
    inside(
        DATABASES,
        "RevealDatabaseCredentials",
        Level.MANAGE,
        lambda c, _: P.RevealDatabaseCredentialsRequest(database_id=c.database.id),
    ),
]
CASES += CONTENT_CASES
