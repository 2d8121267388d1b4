"""Users (platform admins): list, create, get, disable, enable, delete."""

import typer

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.commands.auth import USER_FIELDS
from dockyard_cli.context import command, read_stdin_line, state
from dockyard_cli.resolve import PAGE_SIZE, pages, team_id, user_id

app = typer.Typer(help="Users of the platform (platform admins).", no_args_is_help=True)
COLUMNS = ["id", "username", "email", "role", "disabled"]


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(identity_pb2_grpc.UserServiceStub)


@command(app, "list")
def list_users(
    ctx: typer.Context,
    role: str = typer.Option("", help="Only users with this platform role."),
    prefix: str = typer.Option("", help="Only users whose username or email starts with this."),
    team: str = typer.Option("", help="Only members of this team (name or id)."),
) -> None:
    """The platform's users.

    Example:

        dockyard users list --role admin
    """
    client, stub = _stub(ctx)
    request = identity_pb2.ListUsersRequest(page_size=PAGE_SIZE, role=role, prefix=prefix)
    if team:
        request.team_id = team_id(client, team)
    state(ctx).output.table(pages(client, stub.ListUsers, request, "users"), COLUMNS, key="users")


@command(app, "create")
def create_user(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="3-50 characters."),
    email: str = typer.Option(..., help="The user's email address."),
    role: str = typer.Option("developer", help="super_admin, admin, developer or viewer."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Create a user (the password is prompted for, twice).

    Example:

        dockyard users create grace --email grace@example.com --role developer
    """
    if password_stdin:
        password = read_stdin_line()
    else:
        password = typer.prompt("Password for the new user", hide_input=True, confirmation_prompt=True)
    client, stub = _stub(ctx)
    user = identity_pb2.User(username=username, email=email, role=role, password=password)
    created = client.call(stub.CreateUser, identity_pb2.CreateUserRequest(user=user))
    state(ctx).output.record(created, USER_FIELDS)


@command(app, "get")
def get_user(ctx: typer.Context, user: str = typer.Argument(..., help="Username, email or id.")) -> None:
    """One user.

    Example:

        dockyard users get grace
    """
    client, stub = _stub(ctx)
    found = client.call(stub.GetUser, identity_pb2.GetUserRequest(user_id=user_id(client, user)))
    state(ctx).output.record(found, USER_FIELDS)


@command(app, "disable")
def disable_user(ctx: typer.Context, user: str = typer.Argument(..., help="Username, email or id.")) -> None:
    """Disable a user: their sessions end everywhere within seconds.

    Example:

        dockyard users disable grace
    """
    client, stub = _stub(ctx)
    changed = client.call(stub.DisableUser, identity_pb2.DisableUserRequest(user_id=user_id(client, user)))
    state(ctx).output.record(changed, USER_FIELDS)


@command(app, "enable")
def enable_user(ctx: typer.Context, user: str = typer.Argument(..., help="Username, email or id.")) -> None:
    """Enable a disabled user.

    Example:

        dockyard users enable grace
    """
    client, stub = _stub(ctx)
    changed = client.call(stub.EnableUser, identity_pb2.EnableUserRequest(user_id=user_id(client, user)))
    state(ctx).output.record(changed, USER_FIELDS)


@command(app, "delete")
def delete_user(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Username, email or id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a user for good (their projects go with them).

    Example:

        dockyard users delete grace --yes
    """
    client, stub = _stub(ctx)
    target = user_id(client, user)
    if not yes and not typer.confirm(f"Delete user {user} and their projects?"):
        raise CliError("not deleted")
    client.call(stub.DeleteUser, identity_pb2.DeleteUserRequest(user_id=target))
    state(ctx).output.done(f"Deleted user {user}.", {"id": target})
