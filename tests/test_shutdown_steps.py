"""The steps of a service's shutdown after the drain are bounded (dockyard_kit.server._bounded): a
dependency that went away with the service must not keep the process from exiting."""

import asyncio

from dockyard_kit import server


async def test_a_step_that_hangs_is_given_up_after_the_bound(monkeypatch):
    monkeypatch.setattr(server, "SHUTDOWN_STEP_SECONDS", 0.05)
    hung = asyncio.Event()
    assert await server._bounded("a step that never ends", hung.wait()) is False


async def test_a_step_that_ends_in_time_is_reported_done(monkeypatch):
    monkeypatch.setattr(server, "SHUTDOWN_STEP_SECONDS", 1.0)
    assert await server._bounded("a quick step", asyncio.sleep(0)) is True
