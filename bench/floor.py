"""The floor: Dockyard's read path with nothing else in it, what this machine can do at best (issue 10).

One grpc.aio server on uvloop, in a process of its own as a service is, implementing
ProjectService.GetProject with a single asyncpg primary-key lookup from a pool of 10 and
ListProjects with a single `LIMIT 50` query, against the database it is given (read_path.py gives
it the platform's own, so both read the same rows). In front of it one Envoy, the binary the stack
runs, with two listeners: grpc_json_transcoder alone, and jwt_authn (ES256, Dockyard's real keys,
fetched from the platform's gateway as Dockyard's Envoy fetches them) before the transcoder. No
access log, no authorization, no logging: the cost of everything Dockyard adds is the difference.

    BENCH_FLOOR_DSN=postgresql://... .venv/bin/python -m bench.floor serve --listen 127.0.0.1:50100
"""

import argparse
import json
import os
import pathlib
import sys

import asyncpg
import grpc
import uvloop
import yaml
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from bench.support import REPO_ROOT
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit.contract import DESCRIPTOR_SET, GrpcService, read_contract
from dockyard_kit.stack.components import Envoy, ManagedProcess, free_port, wait_until
from gateway.envoy import (
    DEFAULT_JWT_AUDIENCE,
    DEFAULT_JWT_ISSUER,
    TYPE_PREFIX,
    cluster,
    jwks_cluster,
    jwt_authn,
    service_routes,
    split_address,
    transcoder,
)

PROJECT_SERVICE = "dockyard.projects.v1.ProjectService"
POOL_SIZE = 10
PROJECT_COLUMNS = "id, name, description, owner_id, team_id, metadata, created_at, updated_at"
GET_PROJECT = f"SELECT {PROJECT_COLUMNS} FROM projects.projects WHERE id = $1"
LIST_PROJECTS = f"SELECT {PROJECT_COLUMNS} FROM projects.projects ORDER BY created_at DESC, id DESC LIMIT 50"
MAX_REQUEST_BYTES = 1 << 20
# Where the server finds its database (not on the command line, which anyone may read in ps).
DSN_VARIABLE = "BENCH_FLOOR_DSN"


# -- the server (its own process) ------------------------------------------------------------------


def project_message(row: asyncpg.Record) -> projects_pb2.Project:
    metadata = struct_pb2.Struct()
    metadata.update(json.loads(row["metadata"]))
    message = projects_pb2.Project(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        owner_id=str(row["owner_id"]),
        team_id=str(row["team_id"]) if row["team_id"] else "",
        metadata=metadata,
    )
    message.created_at.FromDatetime(row["created_at"])
    message.updated_at.FromDatetime(row["updated_at"])
    return message


class FloorProjects(projects_pb2_grpc.ProjectServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def GetProject(self, request, context):
        row = await self.pool.fetchrow(GET_PROJECT, request.project_id)
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "project not found")
        return project_message(row)

    async def ListProjects(self, request, context):
        rows = await self.pool.fetch(LIST_PROJECTS)
        return projects_pb2.ListProjectsResponse(projects=[project_message(row) for row in rows])


async def serve(dsn: str, listen: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    server = grpc.aio.server()
    projects_pb2_grpc.add_ProjectServiceServicer_to_server(FloorProjects(pool), server)
    # Envoy health-checks its clusters, as it does Dockyard's services.
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    server.add_insecure_port(listen)
    await server.start()
    await server.wait_for_termination()


class FloorServer(ManagedProcess):
    """`python -m bench.floor serve`, supervised like the stack's children (it dies with us)."""

    def __init__(self, dsn: str, address: str) -> None:
        super().__init__("floor", sink=lambda name, line: None)
        self.dsn = dsn
        self.address = address

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.floor", "serve", "--listen", self.address]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}", DSN_VARIABLE: self.dsn}

    def start(self, timeout: float = 30) -> None:
        self.spawn()
        with grpc.insecure_channel(self.address) as channel:
            wait_until(
                lambda: self._serving(health_pb2_grpc.HealthStub(channel)), timeout, "the floor server"
            )

    def _serving(self, health: health_pb2_grpc.HealthStub) -> bool:
        if not self.running:
            raise RuntimeError(f"the floor server exited: {''.join(self.recent_lines).strip()}")
        try:
            return (
                health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                == health_pb2.HealthCheckResponse.SERVING
            )
        except grpc.RpcError:
            return False


# -- Envoy in front of it --------------------------------------------------------------------------


def envoy_config(server_address: str, rest_port: int, rest_jwt_port: int, jwks_gateway: str) -> dict:
    """Two listeners on the same route to the floor server: the transcoder alone, and jwt_authn
    before it with the provider, rules and key source Dockyard's gateway uses (gateway/envoy.py)."""
    services = read_contract(DESCRIPTOR_SET)
    projects = next(service for service in services if service.full_name == PROJECT_SERVICE)
    authentication = jwt_authn(services, DEFAULT_JWT_ISSUER, DEFAULT_JWT_AUDIENCE)
    transcoding = transcoder(DESCRIPTOR_SET, [projects], MAX_REQUEST_BYTES)
    jwks_host, jwks_port = split_address(jwks_gateway)
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [
                floor_listener("floor-rest", rest_port, projects, [transcoding]),
                floor_listener("floor-rest-jwt", rest_jwt_port, projects, [authentication, transcoding]),
            ],
            # service_routes sends ProjectService to the cluster named after the process serving it.
            "clusters": [cluster(projects.served_by, server_address), jwks_cluster(jwks_host, jwks_port)],
        },
    }


def floor_listener(name: str, port: int, projects: GrpcService, filters: list[dict]) -> dict:
    manager = {
        "@type": TYPE_PREFIX
        + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": name,
        "codec_type": "AUTO",
        "route_config": {
            "name": name,
            "virtual_hosts": [{"name": name, "domains": ["*"], "routes": service_routes(projects)}],
        },
        "http_filters": [
            *filters,
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": TYPE_PREFIX + "envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


class Floor:
    """The floor server and its Envoy, reading the database at `dsn`; Envoy's jwt_authn fetches the
    keys from the Dockyard gateway at `jwks_gateway`. `grpc`, `rest` and `rest_jwt` are host:port."""

    def __init__(self, work_dir: pathlib.Path, dsn: str, jwks_gateway: str) -> None:
        self.grpc = f"127.0.0.1:{free_port()}"
        self.rest = f"127.0.0.1:{free_port()}"
        self.rest_jwt = f"127.0.0.1:{free_port()}"
        self.server = FloorServer(dsn, self.grpc)
        config_path = work_dir / "floor-envoy.yaml"
        config = envoy_config(
            self.grpc, split_address(self.rest)[1], split_address(self.rest_jwt)[1], jwks_gateway
        )
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.envoy = Envoy(config_path, 0, sink=lambda name, line: None)

    def start(self) -> None:
        self.server.start()
        try:
            self.envoy.start()
        except (RuntimeError, TimeoutError) as error:
            self.envoy.stop()
            self.server.stop()
            raise RuntimeError(
                f"the floor's Envoy did not start: {''.join(self.envoy.recent_lines).strip()}"
            ) from error

    def processes(self) -> dict[str, list[int]]:
        return {"floor server": [self.server.process.pid], "floor envoy": [self.envoy.process.pid]}

    def stop(self) -> None:
        self.envoy.stop()
        self.server.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve", help="run the floor's gRPC server")
    server.add_argument("--listen", required=True, help="host:port")
    arguments = parser.parse_args(argv)
    uvloop.run(serve(os.environ[DSN_VARIABLE], arguments.listen))


if __name__ == "__main__":
    main(sys.argv[1:])
