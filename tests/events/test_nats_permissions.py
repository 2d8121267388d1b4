"""NATS as the stack runs it: every service is a user of its own that may publish only its own
events (a forged `user.deleted` from the projects service never reaches the stream), may still set
up the stream and consume what it consumes, and nobody gets in without a password."""

import asyncio
import uuid

import nats
import nats.errors
import pytest

from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1.events_pb2 import UserChanged
from dockyard_kit.config import Settings
from dockyard_kit.events import EventConsumer, NatsLink, new_event, purge_acknowledged
from dockyard_kit.events.nats import STREAM_KEEPER
from dockyard_kit.stack.components import Nats, free_port
from tests.events.support import running
from tests.support.waiting import eventually_async

STREAM = "DOCKYARD"


def _quiet(name: str, line: str) -> None:
    pass


@pytest.fixture
def secured_nats(tmp_path):
    server = Nats(tmp_path, free_port(), sink=_quiet, services=("identity", "projects", STREAM_KEEPER))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def links(secured_nats):
    """Each service's link, connected as its own user from the settings the stack gives it."""
    opened = {}
    for service in ("identity", "projects", STREAM_KEEPER):
        settings = Settings(**secured_nats.client_environment(service), DOCKYARD_SECRET_KEY="unused")
        link = NatsLink.from_settings(settings, service)
        link.start()
        await asyncio.wait_for(link.wait_connected(), 10)
        await link.ensure_stream()
        opened[service] = link
    yield opened
    for link in opened.values():
        await link.close()


@pytest.fixture
async def admin(secured_nats):
    client = await nats.connect(
        secured_nats.url, user=Nats.ADMIN_USER, password=secured_nats.password("admin")
    )
    yield client
    await client.close()


async def subjects_in_stream(admin) -> list[str]:
    js = admin.jetstream()
    state = (await js.stream_info(STREAM)).state
    if not state.messages:
        return []
    return [(await js.get_msg(STREAM, seq)).subject for seq in range(state.first_seq, state.last_seq + 1)]


def user_event(verb: str) -> Event:
    return new_event("identity", "user", verb, str(uuid.uuid4()), UserChanged())


async def test_an_anonymous_connection_or_a_wrong_password_is_refused(secured_nats):
    for credentials in ({}, {"user": "projects", "password": "guessed"}):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(secured_nats.url, allow_reconnect=False, connect_timeout=2, **credentials)


async def test_the_projects_user_cannot_publish_an_identity_event(links, admin):
    projects = links["projects"]
    forged = user_event("deleted")

    with pytest.raises(nats.errors.TimeoutError):
        await projects.js.publish(forged.subject, forged.SerializeToString(), stream=STREAM, timeout=1)
    assert "permissions violation for publish" in projects.last_error
    assert forged.subject in projects.last_error

    own = await projects.js.publish("dockyard.projects.project.created", b"", stream=STREAM, timeout=2)
    genuine = user_event("deleted")
    await links["identity"].js.publish(genuine.subject, genuine.SerializeToString(), stream=STREAM, timeout=2)
    # Only the two genuine events are in the stream: the forgery never reached it.
    assert await subjects_in_stream(admin) == ["dockyard.projects.project.created", genuine.subject]
    assert own.seq == 1


async def test_a_service_user_may_not_read_the_subjects_directly_or_drop_the_stream(links, admin):
    projects = links["projects"]

    await projects.client.subscribe("dockyard.>")
    await projects.client.flush()
    await asyncio.sleep(0.2)
    assert 'permissions violation for subscription to "dockyard.>"' in projects.last_error
    with pytest.raises(nats.errors.TimeoutError):
        await projects.js.delete_stream(STREAM)
    assert (await admin.jetstream().stream_info(STREAM)).config.name == STREAM


async def test_only_the_stream_keeper_may_list_consumers_and_purge_what_they_acknowledged(links, admin):
    genuine = user_event("created")
    await links["identity"].js.publish(genuine.subject, genuine.SerializeToString(), stream=STREAM, timeout=2)
    with pytest.raises((TimeoutError, nats.errors.Error)):
        await asyncio.wait_for(purge_acknowledged(links["projects"]), 3)
    assert "permissions violation" in links["projects"].last_error
    # No consumer exists, so the keeper's purge is allowed and removes nothing.
    assert await purge_acknowledged(links[STREAM_KEEPER]) == 0
    assert await subjects_in_stream(admin) == [genuine.subject]


async def test_a_service_consumes_and_acknowledges_another_services_events(links, admin, pool):
    """The projects user sets up its durable consumer, fetches identity's events and acks them."""
    handled: list[str] = []

    async def handler(conn, event: Event) -> None:
        handled.append(event.id)

    consumer = EventConsumer(pool, links["projects"], "identity", ["dockyard.identity.user.>"], handler)
    events = [user_event("disabled"), user_event("enabled")]
    async with running(consumer.run()):
        for event in events:
            await links["identity"].js.publish(
                event.subject, event.SerializeToString(), stream=STREAM, timeout=2
            )
        await eventually_async(lambda: len(handled) == 2, 10, "identity's events handled by projects")

        async def all_acked() -> bool:
            info = await admin.jetstream().consumer_info(STREAM, consumer.durable)
            return info.num_ack_pending == 0 and info.ack_floor.stream_seq == 2

        await eventually_async(all_acked, 10, "the projects consumer's acks reached the server")
    assert handled == [event.id for event in events]
