"""Fixtures the identity and projects tests share (a pytest plugin, tests/conftest.py): every kind
of caller signed in to the module's platform, and a service's schema at head in the test's own
database with a pool as the service's role."""

import contextlib

import pytest

from dockyard_kit import db, migrations
from tests.support.accounts import People
from tests.support.paths import REPO_ROOT


@pytest.fixture(scope="module")
def people(identity_channel) -> People:
    """Every kind of caller (tests/support/accounts.py), signed in to this module's platform."""
    return People(identity_channel)


@contextlib.asynccontextmanager
async def migrated_pool(settings, service: str):
    """`service`'s schema at head in the test's own database, and a pool as the service's role."""
    await db.bootstrap_service_role(settings, service)
    await migrations.upgrade_to_head(settings, service, REPO_ROOT / "services" / service / "migrations")
    pool = await db.create_pool(settings, service)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def identity_pool(settings):
    async with migrated_pool(settings, "identity") as pool:
        yield pool


@pytest.fixture
async def projects_pool(settings):
    async with migrated_pool(settings, "projects") as pool:
        yield pool
