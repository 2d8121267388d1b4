"""WebhookService: a provider's delivery (headers as metadata, the body as sent) to the domain."""

from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard_kit import protoconv
from services.deployer.domain import webhook_deliveries


class WebhookServicer(deployer_pb2_grpc.WebhookServiceServicer):
    """Public: no caller; each delivery is verified against its git source's secret instead."""

    def __init__(self, runtime, specs) -> None:
        self.runtime = runtime
        self.specs = specs

    async def ReceiveWebhook(self, request, context) -> deployer_pb2.WebhookReceipt:
        headers = {
            key.lower(): value for key, value in context.invocation_metadata() if isinstance(value, str)
        }
        row, reason = await webhook_deliveries.receive(
            self.runtime.require_pool(),
            self.specs,
            request.provider,
            protoconv.parse_id(request.git_source_id, "git_source_id"),
            headers,
            request.body.data,
        )
        return deployer_pb2.WebhookReceipt(deployment_id=str(row["id"]) if row else "", ignored_reason=reason)
