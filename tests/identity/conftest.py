"""Identity tests run against the whole platform (`stack`, `gateway_channel`, `identity_channel`
from tests/support/platform.py) or against identity's schema in the test's own database."""

import pytest

from dockyard_kit import db, migrations
from tests.conftest import REPO_ROOT
from tests.identity.accounts import People


@pytest.fixture(scope="module")
def people(identity_channel) -> People:
    """Every kind of caller (tests/identity/accounts.py), signed in to this module's platform."""
    return People(identity_channel)


@pytest.fixture
async def identity_pool(settings):
    """The identity schema at head in the test's own database, and a pool as identity's role."""
    await db.bootstrap_service_role(settings, "identity")
    await migrations.upgrade_to_head(settings, "identity", REPO_ROOT / "services" / "identity" / "migrations")
    pool = await db.create_pool(settings, "identity")
    yield pool
    await pool.close()
