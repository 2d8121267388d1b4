"""The reconciler's answer to projects' events, with Docker faked (which calls it makes is the
point): one requested application is looked up alone, a burst of them costs one listing of the
platform's services, and each requested application is converged or, asked to scale without a
service, reported as having nothing to scale."""

import asyncio
import uuid

from services.deployer.docker.swarm import ServiceState
from services.deployer.domain.reconciler import Reconciler


def state(application_id: str) -> ServiceState:
    return ServiceState("svc-" + application_id, application_id, "project", "deployment", "image", 1, None)


class CountingSwarm:
    def __init__(self, services: list[ServiceState]) -> None:
        self.services = {s.application_id: s for s in services}
        self.calls: list[str] = []

    async def inspect(self, application_id: str):
        self.calls.append("inspect")
        return self.services.get(application_id)

    async def managed_services(self):
        self.calls.append("list")
        return list(self.services.values())


def reconciler_with(swarm: CountingSwarm):
    reconciler = Reconciler(pool_source=None, swarm=swarm, interval=60)
    done = []

    async def converge(service, *, report=False):
        done.append(("converge", service.application_id, report))

    async def report_scaled(application_id, replicas, *, has_service):
        done.append(("nothing to scale", str(application_id), has_service))

    reconciler._converge = converge
    reconciler._report_scaled = report_scaled
    return reconciler, done


def test_one_requested_application_is_looked_up_alone():
    app = str(uuid.uuid4())
    swarm = CountingSwarm([state(app), state(str(uuid.uuid4()))])
    reconciler, done = reconciler_with(swarm)
    asyncio.run(reconciler._reconcile_requested({app: True}))
    assert swarm.calls == ["inspect"]
    assert done == [("converge", app, True)]


def test_a_burst_of_requests_lists_the_services_once():
    with_service = [str(uuid.uuid4()) for _ in range(50)]
    without = str(uuid.uuid4())
    not_asked = str(uuid.uuid4())
    swarm = CountingSwarm([state(a) for a in [*with_service, not_asked]])
    reconciler, done = reconciler_with(swarm)
    requested = {a: False for a in with_service} | {without: True, str(uuid.uuid4()): False}
    asyncio.run(reconciler._reconcile_requested(requested))
    assert swarm.calls == ["list"]
    assert [d for d in done if d[0] == "converge"] == [("converge", a, False) for a in with_service]
    # Asked to scale with no service: said so; not asked to scale and no service: nothing to do.
    assert [d for d in done if d[0] != "converge"] == [("nothing to scale", without, False)]


def test_nothing_requested_calls_nothing():
    swarm = CountingSwarm([])
    reconciler, _ = reconciler_with(swarm)
    asyncio.run(reconciler._reconcile_requested({}))
    assert swarm.calls == []
