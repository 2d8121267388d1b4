"""The supervisor keeps copies of a few of the kit's values instead of importing the kit's
settings (pydantic and all, for good in its memory): each copy equals its original, and the
supervisor indeed imports none of the heavy modules."""

import pathlib
import subprocess
import sys

from dockyard_kit import config
from dockyard_kit.stack import __main__ as launcher
from dockyard_kit.stack import components

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_copies_equal_the_kits_values():
    assert components.EXIT_CANNOT_LISTEN == config.EXIT_CANNOT_LISTEN
    assert components.DEFAULT_EVENTS_STREAM == config.Settings.model_fields["DOCKYARD_EVENTS_STREAM"].default
    assert launcher.DEFAULT_POOL_MAX == config.Settings.model_fields["DOCKYARD_DB_POOL_MAX"].default


def test_the_supervisor_imports_neither_grpc_nor_the_kits_settings_nor_its_database_layer():
    program = (
        "import sys, dockyard_kit.stack.__main__; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'grpc', 'pydantic', 'sqlalchemy', 'nats', 'asyncpg'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"
