"""Identity's constraints, worded for the person who ran into them. The kit's error mapping
(dockyard_kit/errors.py) reads MESSAGES; constraints not listed get its generic wording."""

from dockyard_kit.errors import AlreadyExists, ConstraintMessage, FailedPrecondition

MESSAGES = {
    # Emails are unique whatever their case (migration 0003), so that signing in by email is unambiguous.
    "uq_users_email_lower": ConstraintMessage(AlreadyExists, "email is already in use", field="email"),
    # The trigger of migration 0002 that keeps an owner in every team.
    "team_keeps_an_owner": ConstraintMessage(
        FailedPrecondition,
        "a team must keep at least one owner: make another member an owner first, or delete the team",
    ),
    "uq_team_members_user_team": ConstraintMessage(
        AlreadyExists, "that user is already a member of this team", field="user_id"
    ),
    # One pending invitation per team and login (migration 0006).
    "uq_team_invitations_pending": ConstraintMessage(
        AlreadyExists,
        "an invitation of {invitee!r} to this team is already pending",
        field="invitation.invitee",
    ),
    # Unique among the owner's live tokens (migration 0005).
    "uq_api_tokens_user_live_name": ConstraintMessage(
        AlreadyExists, "you already have an API token named {name!r}", field="token.name"
    ),
}
