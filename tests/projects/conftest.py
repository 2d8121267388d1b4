"""Projects tests run against the whole platform (`stack`, `gateway_channel`, `identity_channel`,
`projects_channel` from tests/support/platform.py), signed in as the callers of
tests/identity/accounts.py, or against the projects schema in the test's own database."""

import time

import pytest

from dockyard_kit import db, migrations
from tests.conftest import REPO_ROOT
from tests.identity.accounts import People


@pytest.fixture(scope="module")
def people(identity_channel) -> People:
    """Every kind of caller, signed in to this module's platform."""
    return People(identity_channel)


@pytest.fixture
async def projects_pool(settings):
    """The projects schema at head in the test's own database, and a pool as the projects role."""
    await db.bootstrap_service_role(settings, "projects")
    await migrations.upgrade_to_head(settings, "projects", REPO_ROOT / "services" / "projects" / "migrations")
    pool = await db.create_pool(settings, "projects")
    yield pool
    await pool.close()


def eventually(check, timeout: float = 10.0, interval: float = 0.1):
    """`check()`'s first truthy result within `timeout` seconds (the read model of memberships
    follows identity's events, a fraction of a second behind)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"not true within {timeout}s"
            return result
        time.sleep(interval)
