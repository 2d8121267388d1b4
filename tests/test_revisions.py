"""A running service knows its migrations without Alembic: the heads read from the revision files
are Alembic's, and starting a service loads none of SQLAlchemy, Alembic or Mako (the migrating
child alone does, dockyard_kit/migrations.py)."""

import json
import os
import subprocess
import sys

import pytest

from dockyard_kit import migrations, revisions
from dockyard_kit.registry import SERVICE_NAMES
from tests.support.paths import REPO_ROOT

CHAINS = {
    **{name: REPO_ROOT / "services" / name / "migrations" for name in SERVICE_NAMES},
    "probe": REPO_ROOT / "tests" / "support" / "probe_migrations",
}
MIGRATION_LIBRARIES = ("sqlalchemy", "alembic", "mako")


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_heads_read_from_the_files_are_alembics(name):
    assert revisions.head_revision(CHAINS[name]) == migrations.head_revision(CHAINS[name])


def test_two_heads_in_a_chain_are_refused(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b"\ndown_revision = "a"\n')
    assert revisions.chain_head(versions) == "b"
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ("a",)\n')
    with pytest.raises(revisions.MultipleHeads):
        revisions.chain_head(versions)


@pytest.mark.parametrize("module", [f"services.{name}.__main__" for name in SERVICE_NAMES])
def test_a_service_imports_no_migration_library(module):
    """Everything `python -m services.<name>` imports before serving, down to the server's start-up."""
    script = (
        f"import sys, {module}, dockyard_kit.server; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {MIGRATION_LIBRARIES!r})))"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}"}
    done = subprocess.run(
        [sys.executable, "-c", f"import json; {script}"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
