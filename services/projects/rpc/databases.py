"""DatabaseService: requests to domain calls, rows to messages (connection strings masked)."""

from google.protobuf import empty_pb2

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime
from services.projects import convert
from services.projects.domain import databases
from services.projects.rpc.servicer import ProjectsServicer


class DatabaseServicer(ProjectsServicer, projects_pb2_grpc.DatabaseServiceServicer):
    def __init__(self, runtime: ServiceRuntime, sealer: Sealer) -> None:
        super().__init__(runtime)
        self.sealer = sealer

    async def ListDatabases(self, request, context) -> projects_pb2.ListDatabasesResponse:
        caller = await self.caller()
        rows, next_page_token = await databases.list_databases(
            self.session_pool,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            page_size=request.page_size,
            page_token=request.page_token,
            db_type=request.type,
            status=request.status,
        )
        return projects_pb2.ListDatabasesResponse(
            databases=[convert.database(row) for row in rows], next_page_token=next_page_token
        )

    async def GetDatabase(self, request, context) -> projects_pb2.Database:
        caller = await self.caller()
        database_id = protoconv.parse_id(request.database_id, "database_id")
        return convert.database(await databases.get_database(self.session_pool, caller, database_id))

    async def CreateDatabase(self, request, context) -> projects_pb2.Database:
        caller = await self.caller()
        row = await databases.create_database(
            self.pool,
            self.sealer,
            caller,
            protoconv.parse_id(request.project_id, "project_id"),
            name=request.database.name,
            db_type=request.database.type,
            version=request.database.version,
            config=protoconv.dict_from_struct(request.database.config),
        )
        return convert.database(row)

    async def UpdateDatabase(self, request, context) -> projects_pb2.Database:
        caller = await self.caller()
        database_id = protoconv.parse_id(request.database.id, "database.id")
        changes = protoconv.mask_changes(request.update_mask, request.database, databases.UPDATABLE_FIELDS)
        row = await databases.update_database(self.pool, caller, database_id, changes)
        return convert.database(row)

    async def DeleteDatabase(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        await databases.delete_database(
            self.pool, caller, protoconv.parse_id(request.database_id, "database_id")
        )
        return empty_pb2.Empty()

    async def RevealDatabaseCredentials(self, request, context) -> projects_pb2.DatabaseCredentials:
        caller = await self.caller()
        database_id = protoconv.parse_id(request.database_id, "database_id")
        revealed = await databases.reveal_credentials(self.pool, self.sealer, caller, database_id)
        return projects_pb2.DatabaseCredentials(
            database_id=str(database_id),
            username=revealed.username,
            password=revealed.password,
            connection_string=revealed.connection_string,
        )
