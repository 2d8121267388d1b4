"""ApplicationService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import applications
from services.projects.rpc.servicer import ProjectsServicer


class ApplicationServicer(ProjectsServicer, projects_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        super().__init__(runtime)
        self.sealer = sealer  # docker_config's registry password

    async def ListApplications(self, request, context) -> projects_pb2.ListApplicationsResponse:
        caller = await self.caller()
        rows, next_page_token = await applications.list_applications(
            self.session_pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
            status=request.status,
            type=request.type,
            show_archived=request.show_archived,
        )
        return projects_pb2.ListApplicationsResponse(
            applications=[convert.application(row) for row in rows], next_page_token=next_page_token
        )

    async def GetApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(
            await applications.get_application(self.session_pool, caller, application_id)
        )

    async def CreateApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application = request.application
        row = await applications.create_application(
            self.pool,
            self.sealer,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            name=application.name,
            type=application.type,
            source_type=application.source_type,
            source_config=protoconv.dict_from_struct(application.source_config),
            docker_config=protoconv.dict_from_struct(application.docker_config),
            replicas=application.replicas if application.HasField("replicas") else None,
        )
        return convert.application(row)

    async def UpdateApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application.id, "application.id")
        changes = protoconv.mask_changes(
            request.update_mask, request.application, applications.UPDATABLE_FIELDS
        )
        row = await applications.update_application(self.pool, self.sealer, caller, application_id, changes)
        return convert.application(row)

    async def DeleteApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(await applications.archive_application(self.pool, caller, application_id))

    async def RestoreApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(await applications.restore_application(self.pool, caller, application_id))

    async def PurgeApplication(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        await applications.purge_application(self.pool, caller, application_id)
        return empty_pb2.Empty()

    async def ScaleApplication(self, request, context) -> projects_pb2.Application:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row = await applications.scale_application(self.pool, caller, application_id, request.replicas)
        return convert.application(row)
