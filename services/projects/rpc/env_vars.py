"""EnvVarService: requests to domain calls, rows to messages (secret values masked except from
RevealEnvVar)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import env_vars
from services.projects.rpc.caller import projects_caller


class EnvVarServicer(projects_pb2_grpc.EnvVarServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        self.runtime = runtime
        self.sealer = sealer

    async def ListEnvVars(self, request, context) -> projects_pb2.ListEnvVarsResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        rows, next_page_token = await env_vars.list_env_vars(
            pool,
            caller,
            protoconv.parse_id(request.application_id, "application_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return projects_pb2.ListEnvVarsResponse(
            env_vars=[convert.env_var(row) for row in rows], next_page_token=next_page_token
        )

    async def GetEnvVar(self, request, context) -> projects_pb2.EnvVar:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        return convert.env_var(await env_vars.get_env_var(pool, caller, application_id, request.key))

    async def CreateEnvVar(self, request, context) -> projects_pb2.EnvVar:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row = await env_vars.create_env_var(
            pool,
            self.sealer,
            caller,
            application_id,
            key=request.env_var.key,
            value=request.env_var.value,
            is_secret=request.env_var.is_secret,
        )
        return convert.env_var(row)

    async def UpdateEnvVar(self, request, context) -> projects_pb2.EnvVar:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        paths = protoconv.mask_paths(request.update_mask, request.env_var, env_vars.UPDATABLE_FIELDS)
        changes = {path: getattr(request.env_var, path) for path in paths}
        row = await env_vars.update_env_var(
            pool, self.sealer, caller, application_id, request.env_var.key, changes
        )
        return convert.env_var(row)

    async def DeleteEnvVar(self, request, context) -> empty_pb2.Empty:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        await env_vars.delete_env_var(pool, caller, application_id, request.key)
        return empty_pb2.Empty()

    async def ImportEnvVars(self, request, context) -> projects_pb2.ImportEnvVarsResponse:
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        rows, deleted_keys = await env_vars.import_env_vars(
            pool,
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
        pool = self.runtime.require_pool()
        caller = await projects_caller(pool)
        application_id = protoconv.parse_id(request.application_id, "application_id")
        row, plaintext = await env_vars.reveal_env_var(pool, self.sealer, caller, application_id, request.key)
        return convert.env_var(row, revealed_value=plaintext)
