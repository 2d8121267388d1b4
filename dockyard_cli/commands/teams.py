"""Teams: list, create, get, delete, members, add-member, remove-member, invite, and your
invitations (invitations, accept, decline)."""

import typer

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, pages, team_id, user_id

app = typer.Typer(help="Teams and their members.", no_args_is_help=True)
COLUMNS = ["id", "name", "description", "created_at"]
MEMBER_COLUMNS = ["user_id", "username", "role", "joined_at"]


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(identity_pb2_grpc.TeamServiceStub)


@command(app, "list")
def list_teams(ctx: typer.Context) -> None:
    """The teams you can see.

    Example:

        dockyard teams list
    """
    client, stub = _stub(ctx)
    request = identity_pb2.ListTeamsRequest(page_size=PAGE_SIZE)
    state(ctx).output.table(pages(client, stub.ListTeams, request, "teams"), COLUMNS, key="teams")


@command(app, "create")
def create_team(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The team's name."),
    description: str = typer.Option("", help="What the team does."),
) -> None:
    """Create a team; you become its owner.

    Example:

        dockyard teams create platform --description "The platform team"
    """
    client, stub = _stub(ctx)
    team = identity_pb2.Team(name=name, description=description)
    state(ctx).output.record(client.call(stub.CreateTeam, identity_pb2.CreateTeamRequest(team=team)), COLUMNS)


@command(app, "get")
def get_team(ctx: typer.Context, team: str = typer.Argument(..., help="Name or id.")) -> None:
    """One team.

    Example:

        dockyard teams get platform
    """
    client, stub = _stub(ctx)
    found = client.call(stub.GetTeam, identity_pb2.GetTeamRequest(team_id=team_id(client, team)))
    state(ctx).output.record(found, COLUMNS)


@command(app, "delete")
def delete_team(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="Name or id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a team (its projects stay, without a team).

    Example:

        dockyard teams delete platform --yes
    """
    client, stub = _stub(ctx)
    target = team_id(client, team)
    if not yes and not typer.confirm(f"Delete team {team}?"):
        raise CliError("not deleted")
    client.call(stub.DeleteTeam, identity_pb2.DeleteTeamRequest(team_id=target))
    state(ctx).output.done(f"Deleted team {team}.", {"id": target})


@command(app, "members")
def list_members(ctx: typer.Context, team: str = typer.Argument(..., help="Name or id.")) -> None:
    """A team's members and their roles.

    Example:

        dockyard teams members platform
    """
    client, stub = _stub(ctx)
    request = identity_pb2.ListTeamMembersRequest(team_id=team_id(client, team), page_size=PAGE_SIZE)
    members = pages(client, stub.ListTeamMembers, request, "members")
    state(ctx).output.table(members, MEMBER_COLUMNS, key="members")


@command(app, "add-member")
def add_member(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="Name or id."),
    user: str = typer.Argument(..., help="Username, email or id."),
    role: str = typer.Option("member", help="owner, admin, member or viewer."),
) -> None:
    """Add a user to a team directly (platform admins; team owners invite instead).

    Example:

        dockyard teams add-member platform grace --role admin
    """
    client, stub = _stub(ctx)
    member = identity_pb2.TeamMember(user_id=user_id(client, user), role=role)
    request = identity_pb2.AddTeamMemberRequest(team_id=team_id(client, team), member=member)
    state(ctx).output.record(client.call(stub.AddTeamMember, request), MEMBER_COLUMNS)


@command(app, "remove-member")
def remove_member(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="Name or id."),
    user: str = typer.Argument(..., help="Username, email or id."),
) -> None:
    """Remove a member from a team.

    Example:

        dockyard teams remove-member platform grace
    """
    client, stub = _stub(ctx)
    request = identity_pb2.RemoveTeamMemberRequest(
        team_id=team_id(client, team), user_id=user_id(client, user)
    )
    client.call(stub.RemoveTeamMember, request)
    state(ctx).output.done(f"Removed {user} from {team}.")


@command(app, "invite")
def invite(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="Name or id."),
    invitee: str = typer.Argument(..., help="The invited user's username or email."),
    role: str = typer.Option("member", help="admin, member or viewer."),
) -> None:
    """Invite someone to a team; they accept it themselves.

    Example:

        dockyard teams invite platform grace@example.com --role member
    """
    client, stub = _stub(ctx)
    invitation = identity_pb2.TeamInvitation(invitee=invitee, role=role)
    request = identity_pb2.CreateTeamInvitationRequest(team_id=team_id(client, team), invitation=invitation)
    answer = client.call(stub.CreateTeamInvitation, request)
    state(ctx).output.record(answer, ["id", "team_name", "invitee", "role", "state", "expires_at"])


INVITATION_COLUMNS = ["id", "team_name", "role", "state", "invited_by", "expires_at"]


@command(app, "invitations")
def my_invitations(ctx: typer.Context) -> None:
    """The invitations waiting for you.

    Example:

        dockyard teams invitations
    """
    client, stub = _stub(ctx)
    request = identity_pb2.ListMyTeamInvitationsRequest(page_size=PAGE_SIZE)
    invitations = pages(client, stub.ListMyTeamInvitations, request, "invitations")
    state(ctx).output.table(invitations, INVITATION_COLUMNS, key="invitations")


@command(app, "accept")
def accept_invitation(
    ctx: typer.Context, invitation_id: str = typer.Argument(..., help="The invitation's id.")
) -> None:
    """Accept an invitation: you join the team in the role it names.

    Example:

        dockyard teams accept 5d0c...
    """
    client, stub = _stub(ctx)
    member = client.call(
        stub.AcceptTeamInvitation, identity_pb2.AcceptTeamInvitationRequest(invitation_id=invitation_id)
    )
    state(ctx).output.record(member, ["team_id", "user_id", "username", "role", "joined_at"])


@command(app, "decline")
def decline_invitation(
    ctx: typer.Context, invitation_id: str = typer.Argument(..., help="The invitation's id.")
) -> None:
    """Decline an invitation.

    Example:

        dockyard teams decline 5d0c...
    """
    client, stub = _stub(ctx)
    answer = client.call(
        stub.DeclineTeamInvitation, identity_pb2.DeclineTeamInvitationRequest(invitation_id=invitation_id)
    )
    state(ctx).output.record(answer, ["id", "team_name", "role", "state", "answered_at"])
