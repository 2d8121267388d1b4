"""EnvVarService: requests to domain calls, rows to messages (secret values masked except from
RevealEnvVar)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import env_vars
from services.projects.rpc.servicer import ProjectsServicer


class EnvVarServicer(ProjectsServicer, projects_pb2_grpc.EnvVarServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        super().__init__(runtime)
        self.sealer = sealer

    async def ListEnvVars(self, request, context) -> projects_pb2.ListEnvVarsResponse:
        caller = await self.caller()
        rows, next_page_token = await env_vars.list_env_vars(
            self.session_pool,
            caller,
            protoconv.parse_id(request.application_id, "application_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListEnvVarsResponse(
            env_vars=[convert.env_var(row) for row in rows], next_page_token=next_page_token
        )

    async def GetEnvVar(self, request, context) -> projects_pb2.EnvVar:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.env_var(
            await env_vars.get_env_var(self.session_pool, caller, application_id, request.key)
        )

    async def CreateEnvVar(self, request, context) -> projects_pb2.EnvVar:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row = await env_vars.create_env_var(
            self.pool,
            self.sealer,
            caller,
            application_id,
            key=request.env_var.key,
            value=request.env_var.value,
            is_secret=request.env_var.is_secret,
        )
        return convert.env_var(row)

    async def UpdateEnvVar(self, request, context) -> projects_pb2.EnvVar:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        changes = protoconv.mask_changes(request.update_mask, request.env_var, env_vars.UPDATABLE_FIELDS)
        row = await env_vars.update_env_var(
            self.pool, self.sealer, caller, application_id, request.env_var.key, changes
        )
        return convert.env_var(row)

    async def DeleteEnvVar(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        await env_vars.delete_env_var(self.pool, caller, application_id, request.key)
        return empty_pb2.Empty()

    async def ImportEnvVars(self, request, context) -> projects_pb2.ImportEnvVarsResponse:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        rows, deleted_keys = await env_vars.import_env_vars(
            self.pool,
            self.sealer,
            caller,
            application_id,
            text=request.dotenv,
            secret=request.secret,
            replace=request.replace,
        )
        return projects_pb2.ImportEnvVarsResponse(
            env_vars=[convert.env_var(row) for row in rows], deleted_keys=deleted_keys
        )

    async def RevealEnvVar(self, request, context) -> projects_pb2.EnvVar:
        caller = await self.caller()
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row, plaintext = await env_vars.reveal_env_var(
            self.pool, self.sealer, caller, application_id, request.key
        )
        return convert.env_var(row, revealed_value=plaintext)
