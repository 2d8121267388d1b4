"""NatsLink against a real NATS server that is away at start and goes away later."""

import asyncio
import time

from nats.js.api import StorageType

from dockyard_kit.events import NatsLink
from tests.support.waiting import eventually_async


async def test_the_link_connects_in_the_background_and_tells_the_truth_about_outages(nats_server):
    nats_server.stop()
    link = NatsLink(nats_server.url, "DOCKYARD", name="link-test")
    started = time.monotonic()
    link.start()
    try:
        assert time.monotonic() - started < 0.1  # start-up is not held up by NATS
        await asyncio.sleep(1)
        assert not link.connected
        assert link.last_error

        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(link.wait_connected(), 10)
        assert link.connected and link.last_error is None and link.generation == 1

        await asyncio.to_thread(nats_server.kill)
        noticed = await eventually_async(lambda: not link.connected, within=5, what="disconnection noticed")
        assert noticed < 1.0
        assert link.last_error

        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(link.wait_connected(), 10)
        assert link.generation == 2
    finally:
        await link.close()


async def test_ensure_stream_creates_the_stream_and_repairs_its_configuration(nats_server):
    link = NatsLink(nats_server.url, "DOCKYARD", name="link-test")
    link.start()
    try:
        await asyncio.wait_for(link.wait_connected(), 10)
        # Somebody made the stream with a two-minute duplicate window (the JetStream default).
        await link.js.add_stream(name="DOCKYARD", subjects=["dockyard.>"], storage=StorageType.FILE)
        await link.ensure_stream()
        config = (await link.js.stream_info("DOCKYARD")).config
        assert config.subjects == ["dockyard.>"]
        assert config.storage == StorageType.FILE
        assert config.duplicate_window >= 600

        await link.js.delete_stream("DOCKYARD")
        await link.ensure_stream()  # once per connection: it trusts the stream is still there
        assert [info.config.name for info in await link.js.streams_info()] == []
        link.stream_missing()
        await link.ensure_stream()
        assert (await link.js.stream_info("DOCKYARD")).config.duplicate_window >= 600
    finally:
        await link.close()
