"""Between protobuf and identity's rows: resources for responses (rpc/) and event payloads
(domain/). Both layers use it, so it imports neither, nor the store (pyproject.toml's import
contracts). A user's password and hash are never copied into a message."""

from dockyard.identity.v1 import events_pb2, identity_pb2
from dockyard_kit import protoconv
from dockyard_kit.protoconv import struct_from_json


def user(row) -> identity_pb2.User:
    message = identity_pb2.User(
        id=str(row["id"]),
        username=row["username"],
        email=row["email"],
        role=row["role"],
        preferences=struct_from_json(row["preferences"]),
        disabled=row["disabled_at"] is not None,
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message


def team(row) -> identity_pb2.Team:
    message = identity_pb2.Team(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        settings=struct_from_json(row["settings"]),
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message


def team_member(row) -> identity_pb2.TeamMember:
    message = identity_pb2.TeamMember(
        id=str(row["id"]),
        team_id=str(row["team_id"]),
        user_id=str(row["user_id"]),
        role=row["role"],
        username=row["username"],
    )
    protoconv.set_timestamp(message.joined_at, row["joined_at"])
    return message


def team_invitation(row) -> identity_pb2.TeamInvitation:
    """As the team and the invitee see it: the login the inviter typed, never the account's id."""
    message = identity_pb2.TeamInvitation(
        id=str(row["id"]),
        team_id=str(row["team_id"]),
        team_name=row["team_name"],
        invitee=row["invitee"],
        role=row["role"],
        state=row["state"],
        invited_by=row["invited_by"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.expires_at, row["expires_at"])
    if row["answered_at"] is not None:
        protoconv.set_timestamp(message.answered_at, row["answered_at"])
    return message


def api_token(row) -> identity_pb2.ApiToken:
    """The token as its owner sees it: never the secret or its hash."""
    message = identity_pb2.ApiToken(
        id=str(row["id"]),
        name=row["name"],
        scope=row["scope"],
        project_ids=[str(project_id) for project_id in row["project_ids"]],
        prefix=row["prefix"],
    )
    protoconv.set_timestamp(message.expires_at, row["expires_at"])
    protoconv.set_timestamp(message.created_at, row["created_at"])
    if row["last_used_at"] is not None:
        protoconv.set_timestamp(message.last_used_at, row["last_used_at"])
    return message


def user_changed(row, previous_role: str = "") -> events_pb2.UserChanged:
    return events_pb2.UserChanged(user=user(row), previous_role=previous_role)


def team_changed(row) -> events_pb2.TeamChanged:
    return events_pb2.TeamChanged(team=team(row))


def team_member_changed(row, previous_role: str = "") -> events_pb2.TeamMemberChanged:
    return events_pb2.TeamMemberChanged(member=team_member(row), previous_role=previous_role)


def team_invitation_changed(row) -> events_pb2.TeamInvitationChanged:
    invitee_user_id = row["invitee_user_id"]
    return events_pb2.TeamInvitationChanged(
        invitation=team_invitation(row), invitee_user_id=str(invitee_user_id) if invitee_user_id else ""
    )


def session_revoked(user_id, reason: str) -> events_pb2.SessionRevoked:
    return events_pb2.SessionRevoked(user_id=str(user_id), reason=reason)


def user_sessions_revoked(session_ids, not_before, reason: str) -> events_pb2.UserSessionsRevoked:
    message = events_pb2.UserSessionsRevoked(
        session_ids=[str(session_id) for session_id in session_ids], reason=reason
    )
    protoconv.set_timestamp(message.not_before, not_before)
    return message


def api_token_changed(row) -> events_pb2.ApiTokenChanged:
    return events_pb2.ApiTokenChanged(token=api_token(row), user_id=str(row["user_id"]))
