"""A service built on the kit, for tests of the kit itself: it runs the real server bootstrap
(role, migrations, health, interceptor, shutdown) and offers a few raw-bytes RPCs that sleep or
fail in chosen ways. Run as `python -m tests.support.probe_service` with DOCKYARD_PROBE_ADDR set."""

import asyncio
import pathlib

import grpc

from dockyard_kit import errors
from dockyard_kit.db import transaction
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run

PROBE_SERVICE = "dockyard.testing.v1.ProbeService"


def _handlers(runtime: ServiceRuntime) -> dict:
    async def sleep(request: bytes, context) -> bytes:
        await asyncio.sleep(float(request.decode()))
        return b"slept"

    async def fail(request: bytes, context) -> bytes:
        kind = request.decode()
        domain = {
            "not_found": errors.NotFound("widget 7 not found"),
            "permission_denied": errors.PermissionDenied("you may not touch widgets"),
            "unauthenticated": errors.Unauthenticated("sign in first"),
            "invalid_argument": errors.InvalidArgument("name", "must be 3-20 characters"),
            "resource_exhausted": errors.ResourceExhausted("too many attempts; retry later"),
        }
        if kind in domain:
            raise domain[kind]
        if kind == "internal":
            raise RuntimeError("password=hunter2 at /srv/secret/path.py line 12")
        async with transaction(runtime.pool) as conn:
            await conn.execute("TRUNCATE widget_parts, widgets")
            await conn.execute("INSERT INTO widgets (id, name, size_gb) VALUES (1, 'alpha', 1)")
            await conn.execute("INSERT INTO widget_parts (widget_id) VALUES (1)")
        async with transaction(runtime.pool) as conn:
            if kind == "unique":
                await conn.execute("INSERT INTO widgets (id, name, size_gb) VALUES (2, 'alpha', 1)")
            elif kind == "check":
                await conn.execute("INSERT INTO widgets (id, name, size_gb) VALUES (3, 'beta', 0)")
            elif kind == "restrict":
                await conn.execute("DELETE FROM widgets WHERE id = 1")
            elif kind == "foreign_key":
                await conn.execute("INSERT INTO widget_parts (widget_id) VALUES (99)")
            elif kind == "not_null":
                await conn.execute("INSERT INTO widgets (id, name, size_gb) VALUES (4, NULL, 1)")
            elif kind == "too_long":
                await conn.execute("INSERT INTO widgets (id, name, size_gb) VALUES (5, $1, 1)", "x" * 30)
        return b"no error"

    return {
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
    }


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(PROBE_SERVICE, _handlers(runtime)),)
    )


SPEC = ServiceSpec(
    name="probe",
    migrations_dir=pathlib.Path(__file__).parent / "probe_migrations",
    register=register,
    uncontracted_services=(PROBE_SERVICE,),
    # Raw bytes, no contract: the kit's error mapping and lifecycle are tested without tokens.
    open_methods=frozenset({f"/{PROBE_SERVICE}/Sleep", f"/{PROBE_SERVICE}/Fail"}),
)

if __name__ == "__main__":
    run(SPEC)
