"""The identity service: users, teams, team members, sessions, API tokens and the JWT signing keys
(JWKS); it also serves the platform's system status (it is the front door operators reach first)."""

import pathlib

import grpc

from dockyard.identity.v1 import identity_pb2_grpc
from dockyard.system.v1 import system_pb2_grpc
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from services.identity.domain.housekeeping import purge_expired_credentials
from services.identity.rpc.api_tokens import ApiTokenServicer
from services.identity.rpc.auth import AuthServicer
from services.identity.rpc.system import SystemServicer
from services.identity.rpc.teams import TeamServicer
from services.identity.rpc.users import UserServicer
from services.identity.settings import IdentitySettings
from services.identity.system_status import Peers


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    system_pb2_grpc.add_SystemServiceServicer_to_server(
        SystemServicer(runtime, Peers(runtime.settings)), server
    )
    identity_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(runtime), server)
    identity_pb2_grpc.add_ApiTokenServiceServicer_to_server(ApiTokenServicer(runtime), server)
    identity_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(runtime), server)
    identity_pb2_grpc.add_TeamServiceServicer_to_server(TeamServicer(runtime), server)


SPEC = ServiceSpec(
    name="identity",
    migrations_dir=pathlib.Path(__file__).parent / "migrations",
    register=register,
    settings=IdentitySettings,
    background=[purge_expired_credentials],
)

if __name__ == "__main__":
    run(SPEC)
