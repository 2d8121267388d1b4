"""Accounts on the running platform: first-run setup, signing in, users created by an admin, API
tokens exchanged for access tokens, and `People`, every kind of caller the identity and projects
tests act as."""

import uuid

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.support.calls import TIMEOUT, bearer

PASSWORD = "correct horse battery"


def random_id() -> str:
    return str(uuid.uuid4())


def setup_admin(channel, username: str = "root") -> identity_pb2.User:
    """AuthService/Setup: the first super_admin."""
    request = identity_pb2.SetupRequest(username=username, email=f"{username}@example.com", password=PASSWORD)
    return identity_pb2_grpc.AuthServiceStub(channel).Setup(request, timeout=TIMEOUT)


def login(channel, username: str, password: str = PASSWORD) -> str:
    """AuthService/Login: an access token."""
    request = identity_pb2.LoginRequest(username=username, password=password)
    return identity_pb2_grpc.AuthServiceStub(channel).Login(request, timeout=TIMEOUT).access_token


class Account:
    """A user of the running platform and an access token of theirs."""

    def __init__(self, user: identity_pb2.User, token: str) -> None:
        self.user = user
        self.token = token

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def metadata(self) -> tuple:
        return bearer(self.token)


def create_user(channel, creator: Account, username: str, role: str) -> identity_pb2.User:
    """UserService/CreateUser by `creator`."""
    user = identity_pb2.User(username=username, email=f"{username}@example.com", password=PASSWORD, role=role)
    return identity_pb2_grpc.UserServiceStub(channel).CreateUser(
        identity_pb2.CreateUserRequest(user=user), metadata=creator.metadata, timeout=TIMEOUT
    )


def create_account(channel, creator: Account, username: str, role: str) -> Account:
    """A new user, signed in."""
    return Account(create_user(channel, creator, username, role), login(channel, username))


def api_token_access(channel, owner: Account, name: str, *, scope: str, project_ids=()) -> Account:
    """The owner's new API token, exchanged for an access token (the way automation signs in)."""
    token = identity_pb2.ApiToken(name=name, scope=scope, project_ids=list(project_ids))
    created = identity_pb2_grpc.ApiTokenServiceStub(channel).CreateApiToken(
        identity_pb2.CreateApiTokenRequest(token=token), metadata=owner.metadata, timeout=TIMEOUT
    )
    exchanged = identity_pb2_grpc.AuthServiceStub(channel).ExchangeApiToken(
        identity_pb2.ExchangeApiTokenRequest(api_token=created.secret), timeout=TIMEOUT
    )
    return Account(owner.user, exchanged.access_token)


class People:
    """Every kind of caller, on one running platform. `crew` is a team that `owner` owns, with
    `member` and the `bystander` (a developer the user matrix acts upon) as members; `developer`,
    `viewer` and `unrelated` are in no team. The API tokens are the admin's: even an admin's token
    does no more than its scope allows."""

    def __init__(self, channel) -> None:
        self.channel = channel
        self.super_admin = Account(setup_admin(channel, "root"), login(channel, "root"))
        self.admin = create_account(channel, self.super_admin, "admin1", "admin")
        self.developer = create_account(channel, self.super_admin, "dev1", "developer")
        self.viewer = create_account(channel, self.super_admin, "viewer1", "viewer")
        self.owner = create_account(channel, self.super_admin, "owner1", "developer")
        self.member = create_account(channel, self.super_admin, "member1", "developer")
        self.unrelated = create_account(channel, self.super_admin, "loner1", "developer")
        self.read_only_admin = api_token_access(channel, self.admin, "ci-read", scope="read_only")
        self.project_limited_admin = api_token_access(
            channel, self.admin, "ci-project", scope="read_write", project_ids=[random_id()]
        )
        self.anonymous = Account(identity_pb2.User(), "")
        self.crew = self.new_team()
        self.bystander = self.new_target()

    def new_team(self) -> identity_pb2.Team:
        """A team like crew: `owner` its owner, `member` a member."""
        team = identity_pb2_grpc.TeamServiceStub(self.channel).CreateTeam(
            identity_pb2.CreateTeamRequest(team=identity_pb2.Team(name=f"team-{random_id()[:8]}")),
            metadata=self.owner.metadata,
            timeout=TIMEOUT,
        )
        self.add_member(team, self.member.user)
        return team

    def add_member(self, team: identity_pb2.Team, user: identity_pb2.User, role: str = "member") -> None:
        """Added directly by a platform admin (team owners invite instead)."""
        identity_pb2_grpc.TeamServiceStub(self.channel).AddTeamMember(
            identity_pb2.AddTeamMemberRequest(
                team_id=team.id, member=identity_pb2.TeamMember(user_id=user.id, role=role)
            ),
            metadata=self.super_admin.metadata,
            timeout=TIMEOUT,
        )

    def new_target(self) -> identity_pb2.User:
        """A fresh developer in crew, for a call that may change or delete it."""
        user = create_user(self.channel, self.super_admin, f"t{random_id()[:8]}", "developer")
        self.add_member(self.crew, user)
        return user
