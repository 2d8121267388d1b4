"""ApplicationService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import applications
from services.projects.rpc.caller import projects_caller


def _changes(application: projects_pb2.Application, paths: set[str]) -> dict:
    return {
        path: protoconv.dict_from_struct(getattr(application, path))
        if path in ("source_config", "docker_config")
        else getattr(application, path)
        for path in paths
    }


class ApplicationServicer(projects_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListApplications(self, request, context) -> projects_pb2.ListApplicationsResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        rows, next_page_token = await applications.list_applications(
            pool,
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
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(await applications.get_application(pool, caller, application_id))

    async def CreateApplication(self, request, context) -> projects_pb2.Application:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application = request.application
        row = await applications.create_application(
            pool,
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
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application.id, "application.id")
        paths = protoconv.mask_paths(request.update_mask, request.application, applications.UPDATABLE_FIELDS)
        row = await applications.update_application(
            pool, caller, application_id, _changes(request.application, paths)
        )
        return convert.application(row)

    async def DeleteApplication(self, request, context) -> projects_pb2.Application:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(await applications.archive_application(pool, caller, application_id))

    async def RestoreApplication(self, request, context) -> projects_pb2.Application:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.application(await applications.restore_application(pool, caller, application_id))

    async def PurgeApplication(self, request, context) -> empty_pb2.Empty:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        await applications.purge_application(pool, caller, application_id)
        return empty_pb2.Empty()

    async def ScaleApplication(self, request, context) -> projects_pb2.Application:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row = await applications.scale_application(pool, caller, application_id, request.replicas)
        return convert.application(row)
