"""The contract says which process serves each gRPC service ((dockyard.api.v1.served_by)); the kit
(health, reflection) and the gateway (routes) both read it there, through dockyard_kit.contract."""

import pytest
from google.protobuf import descriptor_pb2

from dockyard.api.v1 import options_pb2
from dockyard_kit import contract, registry


def test_each_process_serves_what_the_contract_says():
    served = {name: contract.grpc_services_of(name) for name in registry.SERVICE_NAMES}
    assert sorted(served["identity"]) == [
        "dockyard.identity.v1.ApiTokenService",
        "dockyard.identity.v1.AuthService",
        "dockyard.identity.v1.TeamService",
        "dockyard.identity.v1.UserService",
        "dockyard.system.v1.SystemService",
    ]
    assert sorted(served["projects"]) == [
        f"dockyard.projects.v1.{name}"
        for name in (
            "ApplicationService",
            "CertificateService",
            "DatabaseService",
            "DeploySpecService",
            "DomainService",
            "EnvVarService",
            "GitSourceService",
            "ProjectService",
            "VolumeService",
        )
    ]
    assert sorted(served["deployer"]) == [
        "dockyard.deployer.v1.DeploymentService",
        "dockyard.deployer.v1.WebhookService",
    ]
    assert served["audit"] == ["dockyard.audit.v1.AuditLogService"]
    assert served["notifications"] == ["dockyard.notifications.v1.NotificationChannelService"]


def test_every_routed_service_names_a_registered_process():
    for service in contract.read_contract():
        if not service.internal:
            assert service.served_by in registry.SERVICE_NAMES, service.full_name


def test_a_routed_service_without_served_by_is_refused_by_name(tmp_path):
    files = descriptor_pb2.FileDescriptorSet.FromString(contract.DESCRIPTOR_SET.read_bytes())
    (projects,) = [f for f in files.file if f.name == "dockyard/projects/v1/projects.proto"]
    (volumes,) = [s for s in projects.service if s.name == "VolumeService"]
    volumes.options.ClearExtension(options_pb2.served_by)
    broken = tmp_path / "broken.pb"
    broken.write_bytes(files.SerializeToString())

    with pytest.raises(contract.ContractError, match=r"dockyard\.projects\.v1\.VolumeService .*served_by"):
        contract.read_contract(broken)
