"""Nothing is lost or written twice when the audit service dies mid-stream: a second audit replica
takes events while the stack's own is paused, is killed (SIGKILL) with a batch in hand, and the
stack's own, resumed, ends with exactly one entry per event (what the dead replica had not acked
comes back after the consumer's ack wait; what it had committed, the inbox skips)."""

import os
import signal
import uuid

from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard.projects.v1 import projects_pb2
from dockyard_kit.events import new_event
from tests.support.replicas import service_replica, stack_service_pid
from tests.support.resources import sql
from tests.support.stream import publish
from tests.support.waiting import eventually

EVENTS = 3000
# The consumer's ack wait (dockyard_kit/events/consumer.py) and some slack.
REDELIVERY_SECONDS = 30 + 30


def count(stack, project: str) -> int:
    query = "SELECT count(*) AS n, count(DISTINCT event_id) AS events FROM audit_logs WHERE project_id = $1"
    [row] = sql(stack, "audit", query, uuid.UUID(project))
    assert row["n"] == row["events"], "an event was written twice"
    return row["n"]


def test_a_replica_killed_mid_stream_loses_and_duplicates_nothing(stack):
    project = str(uuid.uuid4())
    events = [
        new_event(
            "projects",
            "application",
            "updated",
            application := str(uuid.uuid4()),
            projects_events.ApplicationChanged(
                application=projects_pb2.Application(id=application, project_id=project, name=f"app-{n}")
            ),
        )
        for n in range(EVENTS)
    ]
    own = stack_service_pid(stack, "audit")
    with service_replica(stack, "audit") as replica:
        os.kill(own, signal.SIGSTOP)
        try:
            publish(stack, *events)
            eventually(lambda: count(stack, project) > 0 or None, timeout=30)
            replica.kill()
            written_by_replica = count(stack, project)
        finally:
            os.kill(own, signal.SIGCONT)
    assert written_by_replica < EVENTS, "the replica finished before it was killed: nothing was tested"
    eventually(lambda: count(stack, project) == EVENTS or None, timeout=REDELIVERY_SECONDS)
    assert count(stack, project) == EVENTS
