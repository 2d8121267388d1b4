"""Projects: list, create, get, delete, stats."""

import typer
from google.protobuf import struct_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, pages, project_id, team_id

app = typer.Typer(help="Projects: what a team runs, and who may touch it.", no_args_is_help=True)
COLUMNS = ["id", "name", "team_id", "description", "created_at"]
FIELDS = ["id", "name", "description", "owner_id", "team_id", "metadata", "created_at", "updated_at"]


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.ProjectServiceStub)


@command(app, "list")
def list_projects(
    ctx: typer.Context,
    search: str = typer.Option("", help="A part of the name."),
    team: str = typer.Option("", help="Only the team's projects (name or id)."),
    tag: str = typer.Option("", help='Only projects whose metadata "tags" hold this tag.'),
) -> None:
    """The projects you can see, newest first.

    Example:

        dockyard projects list --search saas --tag critical
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListProjectsRequest(page_size=PAGE_SIZE, search=search, tag=tag)
    if team:
        request.team_id = team_id(client, team)
    state(ctx).output.table(pages(client, stub.ListProjects, request, "projects"), COLUMNS, key="projects")


@command(app, "create")
def create_project(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="3-100 characters, unique among your projects."),
    team: str = typer.Option("", help="The team that works on it (name or id)."),
    description: str = typer.Option("", help="What it is."),
    tag: list[str] = typer.Option([], help="A tag for its metadata (repeatable)."),
) -> None:
    """Create a project; you become its owner.

    Example:

        dockyard projects create my-saas-app --team platform --tag critical
    """
    client, stub = _stub(ctx)
    project = projects_pb2.Project(name=name, description=description)
    if team:
        project.team_id = team_id(client, team)
    if tag:
        metadata = struct_pb2.Struct()
        metadata.update({"tags": list(tag)})
        project.metadata.CopyFrom(metadata)
    created = client.call(stub.CreateProject, projects_pb2.CreateProjectRequest(project=project))
    state(ctx).output.record(created, FIELDS)


@command(app, "get")
def get_project(ctx: typer.Context, project: str = typer.Argument(..., help="Name or id.")) -> None:
    """One project.

    Example:

        dockyard projects get my-saas-app
    """
    client, stub = _stub(ctx)
    found = client.call(
        stub.GetProject, projects_pb2.GetProjectRequest(project_id=project_id(client, project))
    )
    state(ctx).output.record(found, FIELDS)


@command(app, "delete")
def delete_project(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="Name or id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a project with its applications, databases, domains and deployments.

    Example:

        dockyard projects delete my-saas-app --yes
    """
    client, stub = _stub(ctx)
    target = project_id(client, project)
    if not yes and not typer.confirm(f"Delete project {project} and everything in it?"):
        raise CliError("not deleted")
    client.call(stub.DeleteProject, projects_pb2.DeleteProjectRequest(project_id=target))
    state(ctx).output.done(f"Deleted project {project}.", {"id": target})


@command(app, "stats")
def project_stats(ctx: typer.Context, project: str = typer.Argument(..., help="Name or id.")) -> None:
    """Application counts by status.

    Example:

        dockyard projects stats my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.GetProjectStatsRequest(project_id=project_id(client, project))
    stats = client.call(stub.GetProjectStats, request)
    state(ctx).output.record(stats, ["total_applications", "running", "stopped", "failed", "refreshed_at"])
