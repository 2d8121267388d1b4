"""The `dockyard` command: noun-then-verb commands over the platform's gRPC API.

Examples:

dockyard login

dockyard projects create my-saas-app

dockyard apps create web --project my-saas-app --image nginx:1.27 --port 8080:8081

dockyard deploy web --project my-saas-app

dockyard audit --query "deployment" --since 1d
"""

import typer

from dockyard_cli.client import DEFAULT_SERVER
from dockyard_cli.commands import (
    apps,
    audit,
    auth,
    certs,
    databases,
    deployments,
    domains,
    projects,
    status,
    teams,
    users,
)
from dockyard_cli.context import State
from dockyard_cli.output import Format, Output

app = typer.Typer(
    name="dockyard",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    server: str = typer.Option(
        DEFAULT_SERVER, "--server", envvar="DOCKYARD_SERVER", help="The gateway's host:port (gRPC)."
    ),
    output: Format = typer.Option(
        Format.TEXT, "--output", "-o", help="text: tables on a terminal, plain when piped; json: for scripts."
    ),
) -> None:
    ctx.obj = State(server=server, output=Output(output))


auth.register(app)
app.add_typer(users.app, name="users")
app.add_typer(teams.app, name="teams")
app.add_typer(projects.app, name="projects")
app.add_typer(apps.app, name="apps")
app.add_typer(domains.app, name="domains")
app.add_typer(certs.app, name="certs")
app.add_typer(databases.app, name="databases")
deployments.register(app)
audit.register(app)
status.register(app)
