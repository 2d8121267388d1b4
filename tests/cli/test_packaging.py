"""The installed `dockyard` command: the entry point `pip install -e .` made runs from any
directory without PYTHONPATH, and the package finds the generated stubs in the checkout's gen/
even when the install was made before `make proto` wrote them (as `make`'s order does)."""

import subprocess
import sys

from tests.cli.support import entry_point
from tests.support.paths import REPO_ROOT


def test_the_installed_command_runs_from_any_directory(tmp_path):
    done = subprocess.run(
        [str(entry_point()), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "deploy" in done.stdout and "audit" in done.stdout


def test_the_stubs_are_found_in_the_checkout_without_an_install(tmp_path):
    # -S: no site-packages, so no editable install's finder either; only the checkout is on the path.
    probe = (
        "import importlib.util, sys; sys.path.insert(0, sys.argv[1]); import dockyard_cli; "
        "assert importlib.util.find_spec('dockyard.identity.v1.identity_pb2'), sys.path"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(REPO_ROOT)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
