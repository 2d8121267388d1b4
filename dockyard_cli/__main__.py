"""`python -m dockyard_cli`: the same as the `dockyard` command."""

from dockyard_cli.main import app

app(prog_name="dockyard")
