"""UserService: requests to domain calls, rows to messages. Who may do what is decided in
domain/access.py, called by domain/users.py with the data it loads."""

from google.protobuf import empty_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.auth import require_caller
from services.identity import convert
from services.identity.domain import users
from services.identity.rpc.servicer import IdentityServicer


class UserServicer(IdentityServicer, identity_pb2_grpc.UserServiceServicer):
    async def GetCurrentUser(self, request, context) -> identity_pb2.User:
        return convert.user(await users.current_account(self.pool, require_caller()))

    async def ListUsers(self, request, context) -> identity_pb2.ListUsersResponse:
        caller = await self.caller()
        rows, next_page_token = await users.list_users(
            self.pool,
            caller,
            page_size=request.page_size,
            page_token=request.page_token,
            role=request.role,
            prefix=request.prefix,
            team_id=protoconv.optional_id(request.team_id, "team_id"),
        )
        return identity_pb2.ListUsersResponse(
            users=[convert.user(row) for row in rows], next_page_token=next_page_token
        )

    async def GetUser(self, request, context) -> identity_pb2.User:
        caller = await self.caller()
        user_id = protoconv.parse_id(request.user_id, "user_id")
        return convert.user(await users.get_user(self.pool, caller, user_id))

    async def CreateUser(self, request, context) -> identity_pb2.User:
        caller = await self.caller()
        user = request.user
        row = await users.create_user(
            self.pool,
            caller,
            username=user.username,
            email=user.email,
            password=user.password,
            role=user.role,
            preferences=protoconv.dict_from_struct(user.preferences),
        )
        return convert.user(row)

    async def UpdateUser(self, request, context) -> identity_pb2.User:
        caller = await self.caller()
        user_id = protoconv.parse_id(request.user.id, "user_id")
        changes = protoconv.mask_changes(request.update_mask, request.user, users.UPDATABLE_FIELDS)
        row = await users.update_user(self.pool, caller, user_id, changes, old_password=request.old_password)
        self.runtime.current_roles.forget(str(user_id))
        return convert.user(row)

    async def DeleteUser(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        user_id = protoconv.parse_id(request.user_id, "user_id")
        await users.delete_user(self.pool, caller, user_id)
        self.runtime.current_roles.forget(str(user_id))
        return empty_pb2.Empty()

    async def DisableUser(self, request, context) -> identity_pb2.User:
        caller = await self.caller()
        user_id = protoconv.parse_id(request.user_id, "user_id")
        row = await users.set_disabled(self.pool, caller, user_id, True)
        self.runtime.current_roles.forget(str(user_id))
        return convert.user(row)

    async def EnableUser(self, request, context) -> identity_pb2.User:
        caller = await self.caller()
        user_id = protoconv.parse_id(request.user_id, "user_id")
        return convert.user(await users.set_disabled(self.pool, caller, user_id, False))
