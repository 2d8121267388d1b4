"""Applications: list, create (from an image or a git source), get, env, scale, stop/start,
archive/restore, purge."""

import pathlib
import re

import typer
from google.protobuf import struct_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, application_id, pages, project_id

app = typer.Typer(help="Applications: what a project runs.", no_args_is_help=True)
env_app = typer.Typer(help="An application's environment variables.", no_args_is_help=True)
app.add_typer(env_app, name="env")

COLUMNS = ["id", "name", "type", "status", "replicas", "created_at"]
FIELDS = ["id", "project_id", "name", "type", "source_type", "status", "replicas", "docker_config",
          "source_config", "env_vars", "created_at", "updated_at", "deleted_at"]  # fmt: skip
ENV_COLUMNS = ["key", "value", "is_secret", "updated_at"]
PROJECT_OPTION = typer.Option(None, "--project", "-p", envvar="DOCKYARD_PROJECT", help="The project (name or id), when APP is a name.")  # fmt: skip
APP_ARGUMENT = typer.Argument(..., metavar="APP", help="The application's id, or its name with --project.")
GIT_PROVIDERS = ("github", "gitlab", "bitbucket", "gitea")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.ApplicationServiceStub)


def parse_port(text: str) -> dict:
    """`8080` (the container's port, unpublished), `8080:8081` (published on the host's 8081) or
    `8080:8081/udp`; published host ports use host mode."""
    match = re.fullmatch(r"(\d{1,5})(?::(\d{1,5}))?(?:/(tcp|udp))?", text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r}: expected TARGET[:PUBLISHED][/tcp|udp], e.g. 8080:8081")
    target, published, protocol = match.groups()
    port: dict = {"target": int(target)}
    if published:
        port.update(published=int(published), mode="host")
    if protocol:
        port["protocol"] = protocol
    return port


def parse_assignment(text: str) -> tuple[str, str]:
    """`KEY=value` from the command line (the value may hold `=` and be empty)."""
    key, separator, value = text.partition("=")
    if not separator or not ENV_KEY.match(key):
        raise typer.BadParameter(f"{text!r}: expected KEY=value with KEY like PORT or DATABASE_URL")
    return key, value


def repository_of(url: str) -> str:
    """owner/name from a git URL (https://host/owner/name.git, git@host:owner/name, file:///x/name.git)."""
    path = re.sub(r"^[a-z+]+://[^/]*/", "", url.strip())
    path = re.sub(r"^[^@/]+@[^:]+:", "", path)
    parts = [part for part in path.removesuffix("/").removesuffix(".git").split("/") if part]
    return "/".join(parts[-2:]) if parts else url


def _struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


@command(app, "list")
def list_apps(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
    status: str = typer.Option("", help="stopped, deploying, running, failed or scaling."),
    archived: bool = typer.Option(False, "--archived", help="List archived applications instead."),
) -> None:
    """A project's applications.

    Example:

        dockyard apps list --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListApplicationsRequest(
        project_id=project_id(client, project), page_size=PAGE_SIZE, status=status, show_archived=archived
    )
    state(ctx).output.table(
        pages(client, stub.ListApplications, request, "applications"), COLUMNS, key="applications"
    )


@command(app, "create")
def create_app(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A DNS label: lowercase letters, digits and hyphens."),
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
    image: str = typer.Option("", help="Run this Docker image."),
    git: str = typer.Option("", help="Build this git repository's Dockerfile (a clone URL)."),
    provider: str = typer.Option("github", help="The git host: github, gitlab, bitbucket or gitea."),
    branch: str = typer.Option("main", help="The branch to build and deploy (git)."),
    repository: str = typer.Option("", help="owner/name at the provider (default: from the URL)."),
    dockerfile: str = typer.Option("", help="The Dockerfile's path in the repository (git)."),
    context_dir: str = typer.Option("", "--context", help="The build context in the repository (git)."),
    port: list[str] = typer.Option([], help="TARGET[:PUBLISHED][/udp], e.g. 8080:8081 (repeatable)."),
    run: str = typer.Option("", "--command", help="Replaces the image's CMD (run by sh -c)."),
    replicas: int = typer.Option(1, min=0, help="How many to run."),
) -> None:
    """Create an application from an image (--image) or a git repository (--git).

    Examples:

        dockyard apps create web -p my-saas-app --image nginx:1.27 --port 80:8081

        dockyard apps create api -p my-saas-app --git https://github.com/acme/api.git --branch main
    """
    if bool(image) == bool(git):
        raise typer.BadParameter("give exactly one of --image and --git")
    if git and provider not in GIT_PROVIDERS:
        raise typer.BadParameter(f"--provider: one of {', '.join(GIT_PROVIDERS)}")
    client, stub = _stub(ctx)
    docker_config: dict = {}
    if image:
        docker_config["image"] = image
    if port:
        docker_config["ports"] = [parse_port(text) for text in port]
    if run:
        docker_config["command"] = run
    application = projects_pb2.Application(name=name, replicas=replicas)
    if image:
        application.type, application.source_type = "docker", "docker"
    else:
        source_config = {"repository_url": git}
        if dockerfile:
            source_config["dockerfile"] = dockerfile
        if context_dir:
            source_config["context"] = context_dir
        application.type, application.source_type = "git", provider
        application.source_config.CopyFrom(_struct(source_config))
    if docker_config:
        application.docker_config.CopyFrom(_struct(docker_config))
    parent = project_id(client, project)
    created = client.call(
        stub.CreateApplication,
        projects_pb2.CreateApplicationRequest(project_id=parent, application=application),
    )
    output = state(ctx).output
    if git:
        source = projects_pb2.GitSource(
            provider=provider, repository=repository or repository_of(git), branch=branch
        )
        git_stub = client.stub(projects_pb2_grpc.GitSourceServiceStub)
        try:
            made = client.call(
                git_stub.CreateGitSource,
                projects_pb2.CreateGitSourceRequest(application_id=created.id, git_source=source),
            )
        except CliError as error:
            raise CliError(
                f"application {name} ({created.id}) was created, but its git source was refused: {error.message}"
            ) from None
        if not output.json:
            output.note(f"Webhook secret (shown once): {made.webhook_secret}")
    output.record(created, FIELDS)


@command(app, "get")
def get_app(ctx: typer.Context, app_ref: str = APP_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """One application.

    Example:

        dockyard apps get web --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.GetApplicationRequest(application_id=application_id(client, app_ref, project))
    state(ctx).output.record(client.call(stub.GetApplication, request), FIELDS)


def _scale(ctx, app_ref: str, project: str | None, replicas: int, said: str) -> None:
    client, stub = _stub(ctx)
    request = projects_pb2.ScaleApplicationRequest(
        application_id=application_id(client, app_ref, project), replicas=replicas
    )
    changed = client.call(stub.ScaleApplication, request)
    output = state(ctx).output
    if output.json:
        output.record(changed)
    else:
        output.say(f"{said} {changed.name}: {changed.replicas} replica(s), status {changed.status}.")


@command(app, "scale")
def scale_app(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    replicas: int = typer.Argument(..., min=0, help="How many to run (0 stops it)."),
    project: str = PROJECT_OPTION,
) -> None:
    """Set how many replicas run (no rebuild).

    Example:

        dockyard apps scale web 3 --project my-saas-app
    """
    _scale(ctx, app_ref, project, replicas, "Scaled")


@command(app, "stop")
def stop_app(ctx: typer.Context, app_ref: str = APP_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """Stop an application (scale it to 0).

    Example:

        dockyard apps stop web --project my-saas-app
    """
    _scale(ctx, app_ref, project, 0, "Stopped")


@command(app, "start")
def start_app(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    project: str = PROJECT_OPTION,
    replicas: int = typer.Option(1, min=1, help="How many to run."),
) -> None:
    """Start a stopped application again (scale it up; no rebuild).

    Example:

        dockyard apps start web --project my-saas-app --replicas 2
    """
    _scale(ctx, app_ref, project, replicas, "Started")


@command(app, "archive")
def archive_app(ctx: typer.Context, app_ref: str = APP_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """Archive an application: it stops and leaves lists, and can be restored.

    Example:

        dockyard apps archive web --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.DeleteApplicationRequest(application_id=application_id(client, app_ref, project))
    archived = client.call(stub.DeleteApplication, request)
    state(ctx).output.done(f"Archived {archived.name} (restore it with `dockyard apps restore {archived.id}`).",
                           {"id": archived.id, "status": archived.status})  # fmt: skip


@command(app, "restore")
def restore_app(ctx: typer.Context, app_ref: str = APP_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """Bring an archived application back (stopped; deploy or start it).

    Example:

        dockyard apps restore web --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.RestoreApplicationRequest(application_id=application_id(client, app_ref, project))
    restored = client.call(stub.RestoreApplication, request)
    state(ctx).output.done(f"Restored {restored.name}, status {restored.status}.",
                           {"id": restored.id, "status": restored.status})  # fmt: skip


@command(app, "purge")
def purge_app(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    project: str = PROJECT_OPTION,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove an archived application for good, with its git source and env vars.

    Example:

        dockyard apps purge web --project my-saas-app --yes
    """
    client, stub = _stub(ctx)
    target = application_id(client, app_ref, project)
    if not yes and not typer.confirm(f"Remove {app_ref} for good?"):
        raise CliError("not purged")
    client.call(stub.PurgeApplication, projects_pb2.PurgeApplicationRequest(application_id=target))
    state(ctx).output.done(f"Purged {app_ref}.", {"id": target})


# -- environment variables ------------------------------------------------------------------------


def _env_stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.EnvVarServiceStub)


@command(env_app, "list")
def list_env(ctx: typer.Context, app_ref: str = APP_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """An application's variables (secret values masked).

    Example:

        dockyard apps env list web --project my-saas-app
    """
    client, stub = _env_stub(ctx)
    request = projects_pb2.ListEnvVarsRequest(
        application_id=application_id(client, app_ref, project), page_size=PAGE_SIZE
    )
    state(ctx).output.table(pages(client, stub.ListEnvVars, request, "env_vars"), ENV_COLUMNS, key="env_vars")


@command(env_app, "set")
def set_env(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    assignments: list[str] = typer.Argument(None, help="KEY=value pairs."),
    from_file: pathlib.Path = typer.Option(
        None, "--from-file", exists=True, dir_okay=False, readable=True, help="Import a .env file."
    ),
    secret: bool = typer.Option(False, "--secret", help="Store the values as secrets (encrypted, masked)."),
    replace: bool = typer.Option(
        False, "--replace", help="Also delete the keys not given (with --from-file)."
    ),
    project: str = PROJECT_OPTION,
) -> None:
    """Set variables from KEY=value pairs and/or a .env file, all in one go (all or nothing).

    Examples:

        dockyard apps env set web NODE_ENV=production PORT=8080 -p my-saas-app

        dockyard apps env set web --from-file .env --secret -p my-saas-app
    """
    if not assignments and from_file is None:
        raise typer.BadParameter("give KEY=value pairs or --from-file")
    if replace and from_file is None:
        raise typer.BadParameter("--replace needs --from-file")
    lines = []
    if from_file is not None:
        lines.append(from_file.read_text())
    for text in assignments or []:
        key, value = parse_assignment(text)
        # Quoted in the .env form the server parses: everything after `=` is the value.
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        lines.append(f'{key}="{escaped}"')
    client, stub = _env_stub(ctx)
    request = projects_pb2.ImportEnvVarsRequest(
        application_id=application_id(client, app_ref, project),
        dotenv="\n".join(line.rstrip("\n") for line in lines) + "\n",
        secret=secret,
        replace=replace,
    )
    answer = client.call(stub.ImportEnvVars, request)
    output = state(ctx).output
    if output.json:
        output.record(answer)
        return
    output.say(f"Set {', '.join(var.key for var in answer.env_vars) or 'nothing'}.")
    if answer.deleted_keys:
        output.say(f"Deleted {', '.join(answer.deleted_keys)}.")
    output.note("Deploy again for the application to see them.")


@command(env_app, "unset")
def unset_env(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    keys: list[str] = typer.Argument(..., help="The keys to delete."),
    project: str = PROJECT_OPTION,
) -> None:
    """Delete variables.

    Example:

        dockyard apps env unset web DEBUG LOG_LEVEL -p my-saas-app
    """
    client, stub = _env_stub(ctx)
    target = application_id(client, app_ref, project)
    for key in keys:
        client.call(stub.DeleteEnvVar, projects_pb2.DeleteEnvVarRequest(application_id=target, key=key))
    state(ctx).output.done(f"Deleted {', '.join(keys)}.", {"deleted_keys": list(keys)})


@command(env_app, "reveal")
def reveal_env(
    ctx: typer.Context,
    app_ref: str = APP_ARGUMENT,
    key: str = typer.Argument(..., help="The variable."),
    project: str = PROJECT_OPTION,
) -> None:
    """Print a secret variable's value (managers; the reveal is audited).

    Example:

        dockyard apps env reveal web STRIPE_KEY -p my-saas-app
    """
    client, stub = _env_stub(ctx)
    request = projects_pb2.RevealEnvVarRequest(
        application_id=application_id(client, app_ref, project), key=key
    )
    revealed = client.call(stub.RevealEnvVar, request)
    output = state(ctx).output
    if output.json:
        output.record(revealed)
    else:
        output.say(revealed.value)
