"""The projects authorization matrix: every kind of caller, what each may do to one project (and
everything in it), and a table of RPCs with the access level each needs (domain/access.py).

A Cast is the callers, set up on a running platform around the target project: its owner (who
administers its team), the team's owner, admin, member and viewer, a platform viewer who is a team
member, the platform's super_admin, admin, an unrelated developer and a viewer, a read-only token of
the owner, the owner's read-write tokens limited to the project and to another project, and nobody.
"""

import dataclasses
import enum
import uuid
from collections.abc import Callable

import grpc
from google.protobuf import field_mask_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from tests.identity.accounts import (
    DENIED,
    NOT_FOUND,
    OK,
    TIMEOUT,
    UNAUTHENTICATED,
    Account,
    People,
    api_token_access,
    create_account,
)
from tests.projects.conftest import eventually


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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


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
                metadata=captain.metadata,
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


@dataclasses.dataclass(frozen=True)
class Case:
    """One RPC: the stub class, the method, the level it needs, and `call(cast, caller)`: its request
    and the caller's credentials for it (a destructive RPC makes a fresh target each time)."""

    stub: Callable
    method: str
    needed: Level
    call: Callable[[Cast, str], tuple[object, tuple]]


def on_target(build):
    """A request on the target project (it survives the call)."""
    return lambda cast, caller: (build(cast, caller), cast.metadata(caller))


def delete_project(cast: Cast, caller: str):
    project = cast.fresh_project()
    return projects_pb2.DeleteProjectRequest(project_id=project.id), cast.metadata(caller, project.id)


def update_project(cast: Cast, caller: str):
    return projects_pb2.UpdateProjectRequest(
        project=projects_pb2.Project(id=cast.project.id, description=f"by {caller}"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
    )


PROJECTS = projects_pb2_grpc.ProjectServiceStub

CASES = [
    Case(
        PROJECTS,
        "ListProjects",
        Level.LIST,
        on_target(lambda cast, caller: projects_pb2.ListProjectsRequest()),
    ),
    Case(
        PROJECTS,
        "GetProject",
        Level.READ,
        on_target(lambda cast, caller: projects_pb2.GetProjectRequest(project_id=cast.project.id)),
    ),
    Case(
        PROJECTS,
        "GetProjectStats",
        Level.READ,
        on_target(lambda cast, caller: projects_pb2.GetProjectStatsRequest(project_id=cast.project.id)),
    ),
    Case(
        PROJECTS,
        "CreateProject",
        Level.CREATE,
        on_target(
            lambda cast, caller: projects_pb2.CreateProjectRequest(
                project=projects_pb2.Project(name=unique("new"))
            )
        ),
    ),
    Case(PROJECTS, "UpdateProject", Level.MANAGE, on_target(update_project)),
    Case(PROJECTS, "DeleteProject", Level.OWN, delete_project),
]


def listing(stub, method: str, message) -> Case:
    """A list of what is in the target project: READ."""
    return Case(stub, method, Level.READ, on_target(lambda cast, caller: message(project_id=cast.project.id)))


# Create, get, update, delete, reveal and purge cases of these services are still to come.
CASES += [
    listing(
        projects_pb2_grpc.ApplicationServiceStub, "ListApplications", projects_pb2.ListApplicationsRequest
    ),
    listing(projects_pb2_grpc.VolumeServiceStub, "ListVolumes", projects_pb2.ListVolumesRequest),
    listing(projects_pb2_grpc.DomainServiceStub, "ListDomains", projects_pb2.ListDomainsRequest),
    listing(projects_pb2_grpc.DatabaseServiceStub, "ListDatabases", projects_pb2.ListDatabasesRequest),
]
