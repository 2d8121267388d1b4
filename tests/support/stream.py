"""Putting an event on the running platform's stream as a relay would, for tests of consumers."""

import asyncio
import re
import uuid

import nats

from dockyard.events.v1.envelope_pb2 import Event
from dockyard_kit.stack.components import Nats


def publish(stack, *events: Event) -> None:
    """Publishes the envelopes to JetStream, each under a message id of its own (so JetStream's
    duplicate window does not drop a copy: only the consumer's inbox can)."""
    url = re.search(r"NATS JetStream on (nats://\S+)", stack.output())[1]

    async def send():
        admin = Nats.ADMIN_USER
        client = await nats.connect(
            url, user=admin, password=Nats.password_file_in(stack.data_dir, admin).read_text().strip()
        )
        try:
            stream = client.jetstream()
            for event in events:
                await stream.publish(
                    event.subject, event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
                )
        finally:
            await client.close()

    asyncio.run(send())
