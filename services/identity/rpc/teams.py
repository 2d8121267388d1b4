"""TeamService (teams, members, invitations): requests to domain calls, rows to messages. Who may do what is decided in
domain/access.py, called by domain/teams.py with the data it loads."""

from google.protobuf import empty_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit import protoconv
from services.identity import convert
from services.identity.domain import teams
from services.identity.rpc.servicer import IdentityServicer


class TeamServicer(IdentityServicer, identity_pb2_grpc.TeamServiceServicer):
    async def ListTeams(self, request, context) -> identity_pb2.ListTeamsResponse:
        caller = await self.caller()
        rows, next_page_token = await teams.list_teams(
            self.pool, caller, page_size=request.page_size, page_token=request.page_token
        )
        return identity_pb2.ListTeamsResponse(
            teams=[convert.team(row) for row in rows], next_page_token=next_page_token
        )

    async def GetTeam(self, request, context) -> identity_pb2.Team:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team_id, "team_id")
        return convert.team(await teams.get_team(self.pool, caller, team_id))

    async def CreateTeam(self, request, context) -> identity_pb2.Team:
        caller = await self.caller()
        row = await teams.create_team(
            self.pool,
            caller,
            name=request.team.name,
            description=request.team.description,
            settings=protoconv.dict_from_struct(request.team.settings),
        )
        return convert.team(row)

    async def UpdateTeam(self, request, context) -> identity_pb2.Team:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team.id, "team_id")
        changes = protoconv.mask_changes(request.update_mask, request.team, teams.UPDATABLE_FIELDS)
        return convert.team(await teams.update_team(self.pool, caller, team_id, changes))

    async def DeleteTeam(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        await teams.delete_team(self.pool, caller, protoconv.parse_id(request.team_id, "team_id"))
        return empty_pb2.Empty()

    async def ListTeamMembers(self, request, context) -> identity_pb2.ListTeamMembersResponse:
        caller = await self.caller()
        rows, next_page_token = await teams.list_members(
            self.pool,
            caller,
            protoconv.parse_id(request.team_id, "team_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return identity_pb2.ListTeamMembersResponse(
            members=[convert.team_member(row) for row in rows], next_page_token=next_page_token
        )

    async def AddTeamMember(self, request, context) -> identity_pb2.TeamMember:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team_id, "team_id")
        user_id = protoconv.parse_id(request.member.user_id, "user_id")
        row = await teams.add_member(self.pool, caller, team_id, user_id, request.member.role)
        return convert.team_member(row)

    async def UpdateTeamMember(self, request, context) -> identity_pb2.TeamMember:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team_id, "team_id")
        user_id = protoconv.parse_id(request.user_id, "user_id")
        row = await teams.update_member(self.pool, caller, team_id, user_id, request.member.role)
        return convert.team_member(row)

    async def RemoveTeamMember(self, request, context) -> empty_pb2.Empty:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team_id, "team_id")
        user_id = protoconv.parse_id(request.user_id, "user_id")
        await teams.remove_member(self.pool, caller, team_id, user_id)
        return empty_pb2.Empty()

    async def CreateTeamInvitation(self, request, context) -> identity_pb2.TeamInvitation:
        caller = await self.caller()
        row = await teams.create_invitation(
            self.pool,
            caller,
            protoconv.parse_id(request.team_id, "team_id"),
            invitee=request.invitation.invitee,
            role=request.invitation.role,
        )
        return convert.team_invitation(row)

    async def ListTeamInvitations(self, request, context) -> identity_pb2.ListTeamInvitationsResponse:
        caller = await self.caller()
        rows, next_page_token = await teams.list_invitations(
            self.pool,
            caller,
            protoconv.parse_id(request.team_id, "team_id"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return identity_pb2.ListTeamInvitationsResponse(
            invitations=[convert.team_invitation(row) for row in rows], next_page_token=next_page_token
        )

    async def RevokeTeamInvitation(self, request, context) -> identity_pb2.TeamInvitation:
        caller = await self.caller()
        team_id = protoconv.parse_id(request.team_id, "team_id")
        invitation_id = protoconv.parse_id(request.invitation_id, "invitation_id")
        return convert.team_invitation(
            await teams.revoke_invitation(self.pool, caller, team_id, invitation_id)
        )

    async def ListMyTeamInvitations(self, request, context) -> identity_pb2.ListTeamInvitationsResponse:
        caller = await self.caller()
        rows, next_page_token = await teams.list_my_invitations(
            self.pool, caller, page_size=request.page_size, page_token=request.page_token
        )
        return identity_pb2.ListTeamInvitationsResponse(
            invitations=[convert.team_invitation(row) for row in rows], next_page_token=next_page_token
        )

    async def AcceptTeamInvitation(self, request, context) -> identity_pb2.TeamMember:
        caller = await self.caller()
        invitation_id = protoconv.parse_id(request.invitation_id, "invitation_id")
        return convert.team_member(await teams.accept_invitation(self.pool, caller, invitation_id))

    async def DeclineTeamInvitation(self, request, context) -> identity_pb2.TeamInvitation:
        caller = await self.caller()
        invitation_id = protoconv.parse_id(request.invitation_id, "invitation_id")
        return convert.team_invitation(await teams.decline_invitation(self.pool, caller, invitation_id))
