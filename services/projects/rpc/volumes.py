"""VolumeService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import volumes
from services.projects.rpc.caller import projects_caller
from services.projects.rpc.projects import optional_id


def _changes(volume: projects_pb2.Volume, paths: set[str]) -> dict:
    """The update's values; an empty application_id or database_id unmounts."""
    return {
        path: optional_id(getattr(volume, path), path) if path in volumes.MOUNTS else getattr(volume, path)
        for path in paths
    }


class VolumeServicer(projects_pb2_grpc.VolumeServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListVolumes(self, request, context) -> projects_pb2.ListVolumesResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        rows, next_page_token = await volumes.list_volumes(
            pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListVolumesResponse(
            volumes=[convert.volume(row) for row in rows], next_page_token=next_page_token
        )

    async def GetVolume(self, request, context) -> projects_pb2.Volume:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        volume_id = protoconv.parse_id(request.volume_id, "volume_id")
        return convert.volume(await volumes.get_volume(pool, caller, volume_id))

    async def CreateVolume(self, request, context) -> projects_pb2.Volume:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        volume = request.volume
        row = await volumes.create_volume(
            pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            name=volume.name,
            volume_type=volume.type,
            mount_path=volume.mount_path,
            size_gb=volume.size_gb,
            application_id=optional_id(volume.application_id, "application_id"),
            database_id=optional_id(volume.database_id, "database_id"),
        )
        return convert.volume(row)

    async def UpdateVolume(self, request, context) -> projects_pb2.Volume:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        volume_id = protoconv.parse_id(request.volume.id, "volume.id")
        paths = protoconv.mask_paths(request.update_mask, request.volume, volumes.UPDATABLE_FIELDS)
        row = await volumes.update_volume(pool, caller, volume_id, _changes(request.volume, paths))
        return convert.volume(row)

    async def DeleteVolume(self, request, context) -> empty_pb2.Empty:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        await volumes.delete_volume(pool, caller, protoconv.parse_id(request.volume_id, "volume_id"))
        return empty_pb2.Empty()
