"""People and calls for identity's tests.

Against the database (domain functions, one database per test): `create_people`, `as_caller`,
`outbox_events`. Against the stack (gRPC through the gateway or straight to identity, REST through
the gateway): `setup_admin`, `login`, `create_account`, `api_token_access`, `code_of`, `rest`, and
`People`, every kind of caller of the authorization matrices."""

import http.client
import json
import uuid

import grpc
from google.rpc import error_details_pb2, status_pb2

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.auth import Caller
from services.identity.domain import users

PASSWORD = "correct horse battery"
TIMEOUT = 30

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
INVALID = grpc.StatusCode.INVALID_ARGUMENT


# -- against the database -----------------------------------------------------------------------


def as_caller(row) -> Caller:
    return Caller(user_id=str(row["id"]), role=row["role"])


async def create_people(pool, first: str, *others: str, role: str = "developer") -> list:
    """`first` through first-run setup (a super_admin), `others` created by them with `role`."""
    root = await users.create_first_super_admin(pool, first, f"{first}@example.com", PASSWORD)
    created = [root]
    for name in others:
        created.append(
            await users.create_user(
                pool,
                as_caller(root),
                username=name,
                email=f"{name}@example.com",
                password=PASSWORD,
                role=role,
                preferences={},
            )
        )
    return created


async def outbox_events(pool) -> list[Event]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox ORDER BY id")
    return [Event.FromString(row["envelope"]) for row in rows]


def payload(event: Event, message_type):
    message = message_type()
    assert event.payload.Unpack(message), event.payload.type_url
    return message


# -- against the stack --------------------------------------------------------------------------


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),) if token else ()


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


def random_id() -> str:
    return str(uuid.uuid4())


def code_of(method, request, metadata=()) -> grpc.StatusCode:
    """The status code of one call: OK, or the error's code."""
    try:
        method(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def rpc_error(method, request, metadata=()) -> grpc.RpcError:
    try:
        method(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{request} succeeded")


def field_of(error: grpc.RpcError) -> str:
    """The field a google.rpc.BadRequest detail names ("" when there is none)."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad_request = error_details_pb2.BadRequest()
                if detail.Unpack(bad_request):
                    return ",".join(violation.field for violation in bad_request.field_violations)
    return ""


def rest(port: int, method: str, path: str, body=None, token: str = "") -> tuple[int, dict]:
    """An HTTP/JSON request through the gateway: (status, JSON body or {})."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        connection.close()


# -- the authorization matrices -----------------------------------------------------------------

CALLERS = (
    "super_admin",
    "admin",
    "developer",
    "viewer",
    "owner",
    "member",
    "unrelated",
    "anonymous",
    "read_only_admin",
    "project_limited_admin",
)


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
        identity_pb2_grpc.TeamServiceStub(self.channel).AddTeamMember(
            identity_pb2.AddTeamMemberRequest(
                team_id=team.id, member=identity_pb2.TeamMember(user_id=user.id, role=role)
            ),
            metadata=self.owner.metadata,
            timeout=TIMEOUT,
        )

    def new_target(self) -> identity_pb2.User:
        """A fresh developer in crew, for a call that may change or delete it."""
        user = create_user(self.channel, self.super_admin, f"t{random_id()[:8]}", "developer")
        self.add_member(self.crew, user)
        return user


def expect(*, admins: grpc.StatusCode, others: grpc.StatusCode = DENIED, **by_caller) -> dict:
    """Expected codes by caller: `admins` for super_admin and admin, `others` for developer, viewer
    and the unrelated user, UNAUTHENTICATED for anonymous; PERMISSION_DENIED unless `by_caller`
    names another code for a caller."""
    codes = dict.fromkeys(CALLERS, DENIED)
    codes.update(super_admin=admins, admin=admins, developer=others, viewer=others, unrelated=others)
    codes.update(anonymous=UNAUTHENTICATED, **by_caller)
    return codes


def outcomes(people: People, method, request_for, target_for, expected: dict) -> dict:
    """Calls `method` once as each caller of `expected`, with `request_for(people, target)` where
    `target_for(expected code)` picks the target: the codes each caller got."""
    return {
        name: code_of(method, request_for(people, target_for(code)), getattr(people, name).metadata)
        for name, code in expected.items()
    }
