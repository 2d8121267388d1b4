"""VolumeService: requests to domain calls, rows to messages."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from services.projects import convert
from services.projects.domain import volumes
from services.projects.rpc.servicer import ProjectsServicer


class VolumeServicer(ProjectsServicer, projects_pb2_grpc.VolumeServiceServicer):
    async def ListVolumes(self, request, context) -> projects_pb2.ListVolumesResponse:
        caller = await self.caller()
        rows, next_page_token = await volumes.list_volumes(
            self.session_pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListVolumesResponse(
            volumes=[convert.volume(row) for row in rows], next_page_token=next_page_token
        )

    async def GetVolume(self, request, context) -> projects_pb2.Volume:
        caller = await self.caller()
        volume_id = protoconv.parse_id(request.volume_id, "volume_id")
        return convert.volume(await volumes.get_volume(self.session_pool, caller, volume_id))

    async def CreateVolume(self, request, context) -> projects_pb2.Volume:
        caller = await self.caller()
        volume = request.volume
        row = await volumes.create_volume(
            self.pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            name=volume.name,
            volume_type=volume.type,
            mount_path=volume.mount_path,
            size_gb=volume.size_gb,
            application_id=protoconv.optional_id(volume.application_id, "application_id"),
            database_id=protoconv.optional_id(volume.database_id, "database_id"),
        )
        return convert.volume(row)

    async def UpdateVolume(self, request, context) -> projects_pb2.Volume:
        caller = await self.caller()
        volume_id = protoconv.parse_id(request.volume.id, "volume.id")
        # An empty application_id or database_id unmounts.
        changes = protoconv.mask_changes(
            request.update_mask,
            request.volume,
            volumes.UPDATABLE_FIELDS,
            {mount: protoconv.optional_id for mount in volumes.MOUNTS},
        )
        row = await volumes.update_volume(self.pool, caller, volume_id, changes)
        return convert.volume(row)

    async def DeleteVolume(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        await volumes.delete_volume(self.pool, caller, protoconv.parse_id(request.volume_id, "volume_id"))
        return empty_pb2.Empty()
