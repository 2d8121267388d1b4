"""What the deployer reads from projects: a deployment's spec and a webhook's target, over projects'
internal DeploySpecService with the deployer's service credential. The answers hold secrets in
plaintext: they are kept in memory only, never logged and never put in an event."""

import grpc

from dockyard.projects.v1 import deploy_specs_pb2, deploy_specs_pb2_grpc
from dockyard_kit.errors import FailedPrecondition, NotFound, Unavailable
from dockyard_kit.service_auth import ServiceCredentials

CALL_TIMEOUT_SECONDS = 10.0


class DeploySpecs:
    def __init__(self, address: str, credentials: ServiceCredentials) -> None:
        self.address = address
        self._credentials = credentials
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> deploy_specs_pb2_grpc.DeploySpecServiceStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        return deploy_specs_pb2_grpc.DeploySpecServiceStub(self._channel)

    async def _call(self, method: str, request):
        try:
            return await getattr(self._stub(), method)(
                request, metadata=self._credentials.metadata("projects"), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(error.details()) from None
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise FailedPrecondition(error.details()) from None
            raise Unavailable(f"the projects service did not answer: {error.code().name}") from None

    async def spec(self, application_id: str) -> deploy_specs_pb2.DeploySpec:
        return await self._call(
            "GetDeploySpec", deploy_specs_pb2.GetDeploySpecRequest(application_id=application_id)
        )

    async def webhook_target(self, git_source_id: str) -> deploy_specs_pb2.WebhookTarget:
        return await self._call(
            "GetWebhookTarget", deploy_specs_pb2.GetWebhookTargetRequest(git_source_id=git_source_id)
        )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
