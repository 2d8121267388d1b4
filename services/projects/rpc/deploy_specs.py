"""DeploySpecService: the deployer's reads. Internal: the kit's interceptor lets only a service
credential through (a user's token is PERMISSION_DENIED before a handler runs), so there is no
user to authorize here. Answers hold plaintext secrets: nothing here logs them."""

from dockyard.projects.v1 import deploy_specs_pb2, deploy_specs_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects.domain import deploy_specs


class DeploySpecServicer(deploy_specs_pb2_grpc.DeploySpecServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        self.runtime = runtime
        self.sealer = sealer

    async def GetDeploySpec(self, request, context) -> deploy_specs_pb2.DeploySpec:
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return await deploy_specs.get_deploy_spec(self.runtime.require_pool(), self.sealer, application_id)

    async def GetWebhookTarget(self, request, context) -> deploy_specs_pb2.WebhookTarget:
        git_source_id = protoconv.parse_id(request.git_source_id, "git_source_id")
        return await deploy_specs.get_webhook_target(self.runtime.require_pool(), self.sealer, git_source_id)
