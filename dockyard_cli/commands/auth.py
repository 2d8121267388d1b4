"""login, logout, whoami."""

import os

import typer

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, read_stdin_line, state
from dockyard_cli.credentials import Session

USER_FIELDS = ["id", "username", "email", "role", "disabled", "created_at"]


def register(app: typer.Typer) -> None:
    command(app, "setup")(setup)
    command(app, "login")(login)
    command(app, "logout")(logout)
    command(app, "whoami")(whoami)


def setup(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The first super_admin's username."),
    email: str = typer.Option(..., help="Their email address."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """First run: create the platform's first super_admin (refused once any user exists), and
    sign in as them.

    Example:

        dockyard setup ada --email ada@example.com
    """
    current = state(ctx)
    if password_stdin:
        password = read_stdin_line()
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    client = current.client
    stub = client.stub(identity_pb2_grpc.AuthServiceStub)
    client.public(stub.Setup, identity_pb2.SetupRequest(username=username, email=email, password=password))
    tokens = client.public(stub.Login, identity_pb2.LoginRequest(username=username, password=password))
    client.store.save(current.server, Session(tokens.access_token, tokens.refresh_token, username))
    current.output.done(
        f"Created {username} (super_admin) and logged in to {current.server}.", {"username": username}
    )


def login(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Username or email (prompted when left out)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin (for scripts)."
    ),
) -> None:
    """Sign in; the tokens are kept under ~/.config/dockyard (0600), the password never.

    Example:

        dockyard login ada

        echo "$PASSWORD" | dockyard login ada --password-stdin
    """
    current = state(ctx)
    if not username:
        username = typer.prompt("Username or email")
    password = read_stdin_line() if password_stdin else typer.prompt("Password", hide_input=True)
    if not password:
        raise CliError("a password is needed")
    client = current.client
    stub = client.stub(identity_pb2_grpc.AuthServiceStub)
    tokens = client.public(stub.Login, identity_pb2.LoginRequest(username=username, password=password))
    client.store.save(current.server, Session(tokens.access_token, tokens.refresh_token, username))
    if os.environ.get("DOCKYARD_TOKEN"):
        current.output.note("note: DOCKYARD_TOKEN is set and is used instead of this login until unset")
    current.output.done(f"Logged in to {current.server} as {username}.", {"username": username})


def logout(ctx: typer.Context) -> None:
    """Sign out: ends the session on the server and forgets its tokens here.

    Example:

        dockyard logout
    """
    current = state(ctx)
    client = current.client
    session = client.store.forget(current.server)
    if session is None:
        current.output.done(f"Not logged in to {current.server}.")
        return
    if session.refresh_token:
        stub = client.stub(identity_pb2_grpc.AuthServiceStub)
        try:
            client.public(stub.Logout, identity_pb2.LogoutRequest(refresh_token=session.refresh_token))
        except CliError as error:
            # The tokens are gone from here either way; the session ends with its refresh token.
            current.output.note(f"warning: the server did not end the session: {error.message}")
    current.output.done(f"Logged out of {current.server}.")


def whoami(ctx: typer.Context) -> None:
    """Who the current token belongs to.

    Example:

        dockyard whoami
    """
    current = state(ctx)
    client = current.client
    stub = client.stub(identity_pb2_grpc.UserServiceStub)
    user = client.call(stub.GetCurrentUser, identity_pb2.GetCurrentUserRequest())
    current.output.record(user, USER_FIELDS)
