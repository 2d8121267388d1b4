"""The audit service: the audit trail, every event of every service made searchable (a durable
consumer of `dockyard.>`), its search and export API, and its read models of identity (roles,
memberships) and of projects, from which it decides who sees which entries."""

import pathlib

import grpc

from dockyard.audit.v1 import audit_pb2_grpc
from dockyard_kit import identity_read_model
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from services.audit.domain import trail
from services.audit.rpc.audit_logs import AuditLogServicer


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    audit_pb2_grpc.add_AuditLogServiceServicer_to_server(AuditLogServicer(runtime), server)


async def consume_identity(runtime: ServiceRuntime) -> None:
    await identity_read_model.consumer(runtime, "identity").run()


async def record_trail(runtime: ServiceRuntime) -> None:
    await trail.consumer(runtime).run()


SPEC = ServiceSpec(
    name="audit",
    migrations_dir=pathlib.Path(__file__).parent / "migrations",
    register=register,
    background=[consume_identity, record_trail],
)

if __name__ == "__main__":
    run(SPEC)
