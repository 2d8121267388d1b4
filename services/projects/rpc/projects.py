"""ProjectService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import projects
from services.projects.rpc.caller import projects_caller


def optional_id(value: str, field: str):
    """An id that may be left empty (unset); malformed ones are still the client's mistake."""
    return protoconv.parse_id(value, field) if value else None


def _changes(project: projects_pb2.Project, paths: set[str]) -> dict:
    changes = {}
    for path in paths:
        if path == "metadata":
            changes[path] = protoconv.dict_from_struct(project.metadata)
        elif path == "team_id":
            changes[path] = optional_id(project.team_id, "team_id")
        else:
            changes[path] = getattr(project, path)
    return changes


class ProjectServicer(projects_pb2_grpc.ProjectServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListProjects(self, request, context) -> projects_pb2.ListProjectsResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        rows, next_page_token = await projects.list_projects(
            pool,
            caller,
            page_size=request.page_size,
            page_token=request.page_token,
            search=request.search,
            team_id=optional_id(request.team_id, "team_id"),
            metadata_contains=projects.parse_metadata_filter(request.metadata_contains, request.tag),
        )
        return projects_pb2.ListProjectsResponse(
            projects=[convert.project(row) for row in rows], next_page_token=next_page_token
        )

    async def GetProject(self, request, context) -> projects_pb2.Project:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        project_id = protoconv.parse_id(request.project_id, "project_id")
        return convert.project(await projects.get_project(pool, caller, project_id))

    async def CreateProject(self, request, context) -> projects_pb2.Project:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        row = await projects.create_project(
            pool,
            caller,
            name=request.project.name,
            description=request.project.description,
            team_id=optional_id(request.project.team_id, "team_id"),
            metadata=protoconv.dict_from_struct(request.project.metadata),
        )
        return convert.project(row)

    async def UpdateProject(self, request, context) -> projects_pb2.Project:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        project_id = protoconv.parse_id(request.project.id, "project.id")
        paths = protoconv.mask_paths(request.update_mask, request.project, projects.UPDATABLE_FIELDS)
        row = await projects.update_project(pool, caller, project_id, _changes(request.project, paths))
        return convert.project(row)

    async def DeleteProject(self, request, context) -> empty_pb2.Empty:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        await projects.delete_project(pool, caller, protoconv.parse_id(request.project_id, "project_id"))
        return empty_pb2.Empty()

    async def GetProjectStats(self, request, context) -> projects_pb2.ProjectStats:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        project_id = protoconv.parse_id(request.project_id, "project_id")
        row = await projects.project_stats(pool, caller, project_id)
        message = projects_pb2.ProjectStats(
            project_id=str(project_id),
            total_applications=row["total_applications"],
            running=row["running"],
            stopped=row["stopped"],
            failed=row["failed"],
        )
        message.refreshed_at.FromDatetime(row["refreshed_at"])
        return message
