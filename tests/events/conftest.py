"""Fixtures of the events tests: a service schema with the event tables, made through the Alembic
helper every service's first migration calls, its pool, and a NATS link to the test's own server."""

import asyncio

import asyncpg
import pytest

from dockyard_kit import db
from dockyard_kit.config import Settings
from dockyard_kit.events import NatsLink, create_event_tables
from tests.events.support import SERVICE, migrate
from tests.support.database import drop_service_role


@pytest.fixture
def event_settings(settings, nats_server) -> Settings:
    return settings.model_copy(update={"NATS_URL": nats_server.url})


@pytest.fixture
def event_env(operator_env, nats_server) -> dict[str, str]:
    return {**operator_env, "NATS_URL": nats_server.url}


@pytest.fixture
async def event_schema(event_settings) -> str:
    await db.bootstrap_service_role(event_settings, SERVICE)
    await migrate(event_settings, create_event_tables)
    yield SERVICE
    await drop_service_role(event_settings, SERVICE)


@pytest.fixture
async def pool(event_settings, event_schema) -> asyncpg.Pool:
    pool = await db.create_pool(event_settings, event_schema)
    yield pool
    await pool.close()


@pytest.fixture
async def link(event_settings) -> NatsLink:
    link = NatsLink(event_settings.NATS_URL, event_settings.DOCKYARD_EVENTS_STREAM, name="events-test")
    link.start()
    await asyncio.wait_for(link.wait_connected(), 10)
    await link.ensure_stream()
    yield link
    await link.close()
