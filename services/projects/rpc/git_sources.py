"""GitSourceService: requests to domain calls, rows to messages (the webhook secret masked except
in the create response)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import git_sources
from services.projects.rpc.servicer import ProjectsServicer


class GitSourceServicer(ProjectsServicer, projects_pb2_grpc.GitSourceServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        super().__init__(runtime)
        self.sealer = sealer

    async def GetGitSource(self, request, context) -> projects_pb2.GitSource:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.git_source(await git_sources.get_git_source(self.session_pool, caller, application_id))

    async def CreateGitSource(self, request, context) -> projects_pb2.GitSource:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        fields = protoconv.field_values(request.git_source, git_sources.UPDATABLE_FIELDS)
        row, webhook_secret = await git_sources.create_git_source(
            self.pool, self.sealer, caller, application_id, fields
        )
        return convert.git_source(row, webhook_secret=webhook_secret)

    async def UpdateGitSource(self, request, context) -> projects_pb2.GitSource:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        changes = protoconv.mask_changes(
            request.update_mask, request.git_source, git_sources.UPDATABLE_FIELDS
        )
        row = await git_sources.update_git_source(self.pool, self.sealer, caller, application_id, changes)
        return convert.git_source(row)

    async def DeleteGitSource(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        await git_sources.delete_git_source(self.pool, caller, application_id)
        return empty_pb2.Empty()
