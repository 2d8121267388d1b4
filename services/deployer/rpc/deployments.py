"""DeploymentService: requests to domain calls, rows to messages."""

from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.identity_read_model import ReadModelServicer
from services.deployer import convert
from services.deployer.domain import deployments


class DeploymentServicer(ReadModelServicer, deployer_pb2_grpc.DeploymentServiceServicer):
    def __init__(self, runtime, swarm, notifications) -> None:
        super().__init__(runtime)
        self.swarm = swarm
        self.notifications = notifications

    async def CreateDeployment(self, request, context) -> deployer_pb2.Deployment:
        caller = await self.caller()
        row = await deployments.create_deployment(
            self.pool,
            self.swarm,
            caller,
            protoconv.parse_id(request.application_id, "application_id"),
            git_ref=request.git_ref,
            request_id=request.request_id,
        )
        return convert.deployment(row)

    async def GetDeployment(self, request, context) -> deployer_pb2.Deployment:
        caller = await self.caller()
        deployment_id = protoconv.parse_id(request.deployment_id, "deployment_id")
        return convert.deployment(await deployments.get_deployment(self.pool, caller, deployment_id))

    async def ListDeployments(self, request, context) -> deployer_pb2.ListDeploymentsResponse:
        caller = await self.caller()
        rows, next_page_token = await deployments.list_deployments(
            self.pool,
            caller,
            protoconv.parse_id(request.application_id, "application_id"),
            page_size=request.page_size,
            page_token=request.page_token,
            status=request.status,
        )
        return deployer_pb2.ListDeploymentsResponse(
            deployments=[convert.deployment(row) for row in rows], next_page_token=next_page_token
        )

    async def CancelDeployment(self, request, context) -> deployer_pb2.Deployment:
        caller = await self.caller()
        deployment_id = protoconv.parse_id(request.deployment_id, "deployment_id")
        return convert.deployment(await deployments.cancel_deployment(self.pool, caller, deployment_id))

    async def RollbackApplication(self, request, context) -> deployer_pb2.Deployment:
        caller = await self.caller()
        row = await deployments.rollback_application(
            self.pool,
            self.swarm,
            caller,
            protoconv.parse_id(request.application_id, "application_id"),
            deployment_id=protoconv.optional_id(request.deployment_id, "deployment_id"),
            request_id=request.request_id,
        )
        return convert.deployment(row)

    async def ListDeploymentLogs(self, request, context) -> deployer_pb2.ListDeploymentLogsResponse:
        caller = await self.caller()
        rows, next_page_token = await deployments.list_logs(
            self.pool,
            caller,
            protoconv.parse_id(request.deployment_id, "deployment_id"),
            page_size=request.page_size,
            page_token=request.page_token,
            level=request.level,
        )
        return deployer_pb2.ListDeploymentLogsResponse(
            lines=[convert.log_line(row) for row in rows], next_page_token=next_page_token
        )

    async def FollowDeploymentLogs(self, request, context):
        caller = await self.caller()
        lines = deployments.follow_logs(
            self.pool,
            self.notifications,
            caller,
            protoconv.parse_id(request.deployment_id, "deployment_id"),
            after_id=request.after_id,
            level=request.level,
        )
        async for row in lines:
            yield convert.log_line(row)
