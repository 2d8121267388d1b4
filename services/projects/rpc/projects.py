"""ProjectService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from services.projects import convert
from services.projects.domain import projects
from services.projects.rpc.servicer import ProjectsServicer


class ProjectServicer(ProjectsServicer, projects_pb2_grpc.ProjectServiceServicer):
    async def ListProjects(self, request, context) -> projects_pb2.ListProjectsResponse:
        caller = await self.caller()
        rows, next_page_token = await projects.list_projects(
            self.session_pool,
            caller,
            page_size=request.page_size,
            page_token=request.page_token,
            search=request.search,
            team_id=protoconv.optional_id(request.team_id, "team_id"),
            metadata_contains=projects.parse_metadata_filter(request.metadata_contains, request.tag),
        )
        return projects_pb2.ListProjectsResponse(
            projects=[convert.project(row) for row in rows], next_page_token=next_page_token
        )

    async def GetProject(self, request, context) -> projects_pb2.Project:
        caller = await self.caller()
        project_id = protoconv.parse_id(request.project_id, "project_id")
        return convert.project(await projects.get_project(self.session_pool, caller, project_id))

    async def CreateProject(self, request, context) -> projects_pb2.Project:
        caller = await self.caller()
        row = await projects.create_project(
            self.pool,
            caller,
            name=request.project.name,
            description=request.project.description,
            team_id=protoconv.optional_id(request.project.team_id, "team_id"),
            metadata=protoconv.dict_from_struct(request.project.metadata),
        )
        return convert.project(row)

    async def UpdateProject(self, request, context) -> projects_pb2.Project:
        caller = await self.caller()
        project_id = protoconv.parse_id(request.project.id, "project.id")
        changes = protoconv.mask_changes(
            request.update_mask,
            request.project,
            projects.UPDATABLE_FIELDS,
            {"team_id": protoconv.optional_id},
        )
        row = await projects.update_project(self.pool, caller, project_id, changes)
        return convert.project(row)

    async def DeleteProject(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        await projects.delete_project(self.pool, caller, protoconv.parse_id(request.project_id, "project_id"))
        return empty_pb2.Empty()

    async def GetProjectStats(self, request, context) -> projects_pb2.ProjectStats:
        caller = await self.caller()
        project_id = protoconv.parse_id(request.project_id, "project_id")
        row = await projects.project_stats(self.session_pool, caller, project_id)
        message = projects_pb2.ProjectStats(
            project_id=str(project_id),
            total_applications=row["total_applications"],
            running=row["running"],
            stopped=row["stopped"],
            failed=row["failed"],
        )
        protoconv.set_timestamp(message.refreshed_at, row["refreshed_at"])
        return message
