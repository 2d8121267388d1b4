"""Managed databases: list, create, get, credentials, delete."""

import typer

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, database_id, pages, project_id

app = typer.Typer(help="Managed databases (credentials generated, stored encrypted).", no_args_is_help=True)
COLUMNS = ["id", "name", "type", "version", "status", "created_at"]
FIELDS = ["id", "project_id", "name", "type", "version", "status", "username", "connection_string", "config",
          "created_at", "updated_at"]  # fmt: skip
PROJECT_OPTION = typer.Option(None, "--project", "-p", envvar="DOCKYARD_PROJECT", help="The project (name or id), when DATABASE is a name.")  # fmt: skip
DATABASE_ARGUMENT = typer.Argument(..., help="The database's id, or its name with --project.")


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.DatabaseServiceStub)


@command(app, "list")
def list_databases(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
) -> None:
    """A project's databases.

    Example:

        dockyard databases list --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListDatabasesRequest(project_id=project_id(client, project), page_size=PAGE_SIZE)
    state(ctx).output.table(pages(client, stub.ListDatabases, request, "databases"), COLUMNS, key="databases")


@command(app, "create")
def create_database(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Lowercase letters, digits, _ and -; unique in the project."),
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
    type_: str = typer.Option("postgresql", "--type", help="postgresql, mysql, mongodb or redis."),
    version: str = typer.Option("", help="Defaults to the type's current major version."),
) -> None:
    """Create a managed database with generated credentials.

    Example:

        dockyard databases create app-postgres --project my-saas-app --type postgresql
    """
    client, stub = _stub(ctx)
    database = projects_pb2.Database(name=name, type=type_, version=version)
    request = projects_pb2.CreateDatabaseRequest(project_id=project_id(client, project), database=database)
    state(ctx).output.record(client.call(stub.CreateDatabase, request), FIELDS)


@command(app, "get")
def get_database(
    ctx: typer.Context, database: str = DATABASE_ARGUMENT, project: str = PROJECT_OPTION
) -> None:
    """One database (its password masked).

    Example:

        dockyard databases get app-postgres --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.GetDatabaseRequest(database_id=database_id(client, database, project))
    state(ctx).output.record(client.call(stub.GetDatabase, request), FIELDS)


@command(app, "credentials")
def reveal_credentials(
    ctx: typer.Context, database: str = DATABASE_ARGUMENT, project: str = PROJECT_OPTION
) -> None:
    """The username, password and connection string (managers; the reveal is audited).

    Example:

        dockyard databases credentials app-postgres --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.RevealDatabaseCredentialsRequest(
        database_id=database_id(client, database, project)
    )
    state(ctx).output.record(client.call(stub.RevealDatabaseCredentials, request))


@command(app, "delete")
def delete_database(
    ctx: typer.Context,
    database: str = DATABASE_ARGUMENT,
    project: str = PROJECT_OPTION,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a database.

    Example:

        dockyard databases delete app-postgres --project my-saas-app --yes
    """
    client, stub = _stub(ctx)
    target = database_id(client, database, project)
    if not yes and not typer.confirm(f"Delete database {database}?"):
        raise CliError("not deleted")
    client.call(stub.DeleteDatabase, projects_pb2.DeleteDatabaseRequest(database_id=target))
    state(ctx).output.done(f"Deleted database {database}.", {"id": target})
