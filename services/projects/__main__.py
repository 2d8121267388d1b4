"""The projects service: projects, applications, git sources, env vars, volumes, domains,
certificates and managed databases, with a read model of identity's users and memberships."""

import pathlib

import grpc

from dockyard.projects.v1 import deploy_specs_pb2_grpc, projects_pb2_grpc
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from services.projects.domain.deployer_events import consume_deployer_events
from services.projects.domain.identity_events import consume_identity_events
from services.projects.domain.stats import refresh_application_stats
from services.projects.rpc.applications import ApplicationServicer
from services.projects.rpc.certificates import CertificateServicer
from services.projects.rpc.databases import DatabaseServicer
from services.projects.rpc.deploy_specs import DeploySpecServicer
from services.projects.rpc.domains import DomainServicer
from services.projects.rpc.env_vars import EnvVarServicer
from services.projects.rpc.git_sources import GitSourceServicer
from services.projects.rpc.projects import ProjectServicer
from services.projects.rpc.volumes import VolumeServicer
from services.projects.settings import ProjectsSettings


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    # One key ring for every servicer that seals or opens secrets.
    sealer = Sealer("projects", runtime.key_ring)
    projects_pb2_grpc.add_ProjectServiceServicer_to_server(ProjectServicer(runtime), server)
    projects_pb2_grpc.add_VolumeServiceServicer_to_server(VolumeServicer(runtime), server)
    projects_pb2_grpc.add_DomainServiceServicer_to_server(DomainServicer(runtime), server)
    projects_pb2_grpc.add_CertificateServiceServicer_to_server(CertificateServicer(runtime, sealer), server)
    projects_pb2_grpc.add_ApplicationServiceServicer_to_server(ApplicationServicer(runtime, sealer), server)
    projects_pb2_grpc.add_GitSourceServiceServicer_to_server(GitSourceServicer(runtime, sealer), server)
    projects_pb2_grpc.add_EnvVarServiceServicer_to_server(EnvVarServicer(runtime, sealer), server)
    projects_pb2_grpc.add_DatabaseServiceServicer_to_server(DatabaseServicer(runtime, sealer), server)
    deploy_specs_pb2_grpc.add_DeploySpecServiceServicer_to_server(DeploySpecServicer(runtime, sealer), server)


SPEC = ServiceSpec(
    name="projects",
    migrations_dir=pathlib.Path(__file__).parent / "migrations",
    register=register,
    settings=ProjectsSettings,
    background=[refresh_application_stats, consume_identity_events, consume_deployer_events],
)

if __name__ == "__main__":
    run(SPEC)
