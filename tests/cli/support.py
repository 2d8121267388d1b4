"""`dockyard` as the tests drive it: in-process through Typer's test runner, or as a subprocess of
the installed entry point, each with its own config directory, so tokens never leak between callers."""

import dataclasses
import os
import pathlib
import subprocess
import sys

from typer.testing import CliRunner

from dockyard_cli.main import app


@dataclasses.dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class Cli:
    """`dockyard` with its config under `config_home` and the module's gateway as its server."""

    def __init__(self, server: str, config_home: pathlib.Path, env: dict[str, str] | None = None) -> None:
        self.server = server
        self.config_home = config_home
        self.env = {
            "XDG_CONFIG_HOME": str(config_home),
            "DOCKYARD_SERVER": server,
            "DOCKYARD_TOKEN": "",
            **(env or {}),
        }

    @property
    def credentials(self) -> pathlib.Path:
        return self.config_home / "dockyard" / "credentials.json"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env=self.env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def environment(self) -> dict[str, str]:
        """For a subprocess: no PYTHONPATH, so the installed entry point must find its packages."""
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        return {**env, **{key: value for key, value in self.env.items() if value}}

    def spawn(self, *args: str, cwd: pathlib.Path) -> subprocess.Popen:
        return subprocess.Popen(
            [str(entry_point()), *args], cwd=cwd, env=self.environment(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip


def entry_point() -> pathlib.Path:
    """The `dockyard` script `pip install -e .` put beside the interpreter."""
    return pathlib.Path(sys.executable).with_name("dockyard")
