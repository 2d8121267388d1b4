"""The audit service: the audit trail, every event of every service made searchable (a durable
consumer of `dockyard.>`), its search and export API, its monthly partitions made ahead and the
retention that archives and drops old ones, and its read models of identity (roles, memberships)
and of projects, from which it decides who sees which entries."""

import asyncio
import pathlib

import grpc

from dockyard.audit.v1 import audit_pb2_grpc
from dockyard.system.v1 import system_pb2
from dockyard_kit import db, errors, identity_read_model
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from services.audit.domain import trail
from services.audit.domain.retention import run_retention
from services.audit.rpc.audit_logs import AuditLogServicer
from services.audit.settings import AuditSettings
from services.audit.store import partitions

# The status page must answer quickly even while the database does not.
STATUS_TIMEOUT_SECONDS = 2.0


class Audit:
    """What the audit service's servicer, jobs and status report share besides the runtime."""

    def __init__(self) -> None:
        self.runtime: ServiceRuntime | None = None

    def register(self, server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        audit_pb2_grpc.add_AuditLogServiceServicer_to_server(AuditLogServicer(runtime), server)

    async def consume_identity(self, runtime: ServiceRuntime) -> None:
        await identity_read_model.consumer(runtime, "identity").run()

    async def record_trail(self, runtime: ServiceRuntime) -> None:
        await trail.consumer(runtime).run()

    async def retain(self, runtime: ServiceRuntime) -> None:
        """Makes the coming months' partitions at once, then daily archives and drops expired ones."""
        settings = runtime.settings
        await run_retention(
            runtime.require_pool, settings, settings.DOCKYARD_AUDIT_RETENTION_INTERVAL_SECONDS
        )

    async def report_status(self, component: system_pb2.ComponentStatus) -> None:
        """The partitions, and the entries waiting in the default one."""
        trail_status = component.audit_trail
        try:
            async with asyncio.timeout(STATUS_TIMEOUT_SECONDS):
                async with self.runtime.require_pool().acquire() as conn:
                    months = [p.name for p in await partitions.list_partitions(conn) if p.start is not None]
                    waiting = await partitions.default_partition_rows(conn)
        except (*db.DATABASE_ERRORS, TimeoutError, errors.Unavailable) as exc:
            trail_status.warning = f"the trail's partitions are unknown: {type(exc).__name__}"
            return
        trail_status.partitions.extend(months)
        trail_status.default_partition_rows = waiting
        if waiting:
            trail_status.warning = (
                f"{waiting} entries are in the default partition (no month partition holds their time);"
                " they are kept, and move into their month when its partition is made"
            )


def build_spec(audit: Audit) -> ServiceSpec:
    return ServiceSpec(
        name="audit",
        migrations_dir=pathlib.Path(__file__).parent / "migrations",
        register=audit.register,
        settings=AuditSettings,
        background=[audit.consume_identity, audit.record_trail, audit.retain],
        report_status=audit.report_status,
    )


if __name__ == "__main__":
    run(build_spec(Audit()))
