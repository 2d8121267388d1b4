"""People and calls for identity's tests.

Against the database (domain functions, one database per test): `create_people`, `as_caller`,
`outbox_events`. Against the stack (gRPC through the gateway or straight to identity, REST through
the gateway): `setup_admin`, `login`, `create_account`, `api_token_access`, `code_of`, `rest`."""

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
