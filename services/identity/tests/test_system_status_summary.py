"""What the status page says, given what each service answered (pure logic, no I/O)."""

from dockyard.system.v1 import system_pb2
from services.identity.system_status import PeerReport, summarize


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
