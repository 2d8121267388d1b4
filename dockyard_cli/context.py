"""What every command shares: the global options (server, output format), the one client made on
first use, and the wrapper that turns failures into one line and an exit code (1 for an error,
130 for Ctrl-C) instead of a traceback."""

import dataclasses
import functools
import sys

import typer

from dockyard_cli.client import Client, CliError
from dockyard_cli.output import Output

EXIT_INTERRUPTED = 130


@dataclasses.dataclass
class State:
    server: str
    output: Output
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.server)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def handled(function):
    """Runs a command: a CliError is printed as one line (exit 1 or its own code); Ctrl-C ends it
    quietly with 130 (a command with something to say about it catches KeyboardInterrupt itself).
    Every command takes the context as `ctx` (Typer passes parameters by name)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        ctx = kwargs["ctx"]
        try:
            return function(*args, **kwargs)
        except CliError as error:
            output(ctx).error(error.message)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            output(ctx).note("\ninterrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            state(ctx).close()

    return run


def output(ctx: typer.Context) -> Output:
    return state(ctx).output


def command(group: typer.Typer, name: str | None = None, **options):
    """`group.command(name)` for a function wrapped by `handled`."""

    def register(function):
        return group.command(name, **options)(handled(function))

    return register


def read_stdin_line() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")
