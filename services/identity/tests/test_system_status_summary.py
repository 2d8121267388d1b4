"""What the status page says, given what each service answered (pure logic, no I/O), what of it
anonymous callers read, and how often their page is assembled."""

import asyncio

from dockyard.system.v1 import system_pb2
from services.identity.system_status import PeerReport, SharedStatus, states_only, summarize


def component(name: str, *, db=True, at_head=True, nats=True, docker=None) -> system_pb2.ComponentStatus:
    status = system_pb2.ComponentStatus(
        service=name,
        database_reachable=db,
        database_error="" if db else "ConnectionRefusedError",
        server_version="18.6" if db else "",
        schema=system_pb2.SchemaStatus(
            name=name, migration_head="0002", current_revision="0002" if at_head else "0001", at_head=at_head
        ),
        nats=system_pb2.NatsStatus(connected=nats, stream="DOCKYARD", error="" if nats else "disconnected"),
    )
    if docker is not None:
        status.docker.CopyFrom(docker)
    return status


def healthy() -> list[PeerReport]:
    engine = system_pb2.DockerStatus(available=True, version="20.10", swarm_active=False)
    return [
        PeerReport("identity", "SERVING", component("identity")),
        PeerReport("projects", "SERVING", component("projects")),
        PeerReport("deployer", "SERVING", component("deployer", docker=engine)),
        PeerReport("audit", "SERVING", component("audit")),
    ]


def test_all_well():
    status = summarize(healthy(), database_configured=True, stream="DOCKYARD")
    assert status.database.initialized and status.database.dialect == "postgresql"
    assert status.database.server_version == "18.6"
    assert [s.name for s in status.database.schemas] == ["identity", "projects", "deployer", "audit"]
    assert status.nats.connected and status.nats.stream == "DOCKYARD"
    assert status.docker.available and status.docker.version == "20.10"
    assert status.checked_at.seconds > 0


def test_a_schema_behind_head_means_not_initialized():
    reports = healthy()
    reports[1] = PeerReport("projects", "NOT_SERVING", component("projects", at_head=False))
    assert not summarize(reports, database_configured=True, stream="DOCKYARD").database.initialized


def test_an_unreachable_service_means_not_initialized_and_is_named():
    reports = healthy()
    reports[3] = PeerReport("audit", "UNREACHABLE", None)
    status = summarize(reports, database_configured=True, stream="DOCKYARD")
    assert not status.database.initialized
    assert [(s.name, s.status) for s in status.services][3] == ("audit", "UNREACHABLE")


def test_database_down_everywhere_carries_the_reason():
    reports = [PeerReport(r.service, "NOT_SERVING", component(r.service, db=False)) for r in healthy()]
    status = summarize(reports, database_configured=True, stream="DOCKYARD")
    assert not status.database.initialized
    assert status.database.error == "ConnectionRefusedError"


def test_one_service_off_nats_means_disconnected():
    reports = healthy()
    reports[0] = PeerReport("identity", "SERVING", component("identity", nats=False))
    status = summarize(reports, database_configured=True, stream="DOCKYARD")
    assert not status.nats.connected and status.nats.error == "disconnected"


def test_no_deployer_answer_means_docker_unknown():
    reports = [r for r in healthy() if r.service != "deployer"]
    status = summarize(reports, database_configured=True, stream="DOCKYARD")
    assert not status.docker.available and "deployer" in status.docker.error


def test_states_only_keeps_every_state_and_drops_text_versions_and_revisions():
    reports = [
        PeerReport(r.service, "NOT_SERVING", component(r.service, db=False, nats=False)) for r in healthy()
    ]
    reports[0] = PeerReport("identity", "SERVING", component("identity"))
    full = summarize(reports, database_configured=True, stream="DOCKYARD")
    assert full.database.error and full.database.server_version and full.nats.error

    public = states_only(full)
    assert (public.database.configured, public.database.initialized) == (True, False)
    assert public.database.dialect == "postgresql"
    assert [(s.name, s.at_head) for s in public.database.schemas] == [
        (s.name, s.at_head) for s in full.database.schemas
    ]
    assert public.nats.connected is False and public.docker.available == full.docker.available
    assert list(public.services) == list(full.services) and public.checked_at == full.checked_at
    assert not (
        public.database.error or public.database.server_version or public.nats.error or public.nats.stream
    )
    assert not any(s.migration_head or s.current_revision for s in public.database.schemas)
    assert not (public.docker.error or public.docker.version)


class Assembler:
    """Counts how often the page is assembled; each assembly takes a moment, as the fan-out does."""

    def __init__(self) -> None:
        self.assembled = 0

    async def __call__(self) -> system_pb2.SystemStatus:
        self.assembled += 1
        await asyncio.sleep(0.05)
        return summarize(healthy(), database_configured=True, stream="DOCKYARD")


async def test_callers_arriving_together_share_one_assembly():
    assemble, now = Assembler(), [100.0]
    shared = SharedStatus(assemble, max_age=2.0, clock=lambda: now[0])

    pages = await asyncio.gather(*(shared.get() for _ in range(50)))
    assert assemble.assembled == 1
    assert all(page == pages[0] and not page.database.server_version for page in pages)

    now[0] += 1.9
    await shared.get()
    assert assemble.assembled == 1  # still fresh
    now[0] += 0.2
    await shared.get()
    assert assemble.assembled == 2  # too old: assembled again


async def test_a_caller_going_away_does_not_cancel_the_shared_assembly():
    assemble = Assembler()
    shared = SharedStatus(assemble)
    first = asyncio.ensure_future(shared.get())
    second = asyncio.ensure_future(shared.get())
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).database.initialized
    assert assemble.assembled == 1
