"""identity: team invitations. A team's owners and admins invite a person by username or email; the
membership exists only once the invited user accepts.

`invitee` is the login as the inviter typed it (lower-cased) and is all the team ever sees of the
person; `invitee_user_id` is the account it named when it was sent, or NULL when it named none (an
invitation nobody can accept, answered exactly like any other so that inviting tells nothing about
which accounts exist). Fixing the account at sending time means a login renamed or reused later
never hands the invitation to someone else. At most one pending invitation per team and login.

Revision ID: 0006_team_invitations
"""

from dockyard_kit.migrations import execute_each

revision = "0006_team_invitations"
down_revision = "0005_api_token_names_reusable"

UPGRADE = [
    r"""
CREATE TABLE identity.team_invitations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES identity.teams (id) ON DELETE CASCADE,
    invitee text NOT NULL,
    -- SET NULL: a deleted account's invitations stay as they are, unacceptable, to the team's eyes.
    invitee_user_id uuid REFERENCES identity.users (id) ON DELETE SET NULL,
    role text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    invited_by uuid REFERENCES identity.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    answered_at timestamptz,
    CONSTRAINT check_team_invitation_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    CONSTRAINT check_team_invitation_state
        CHECK (state IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    CONSTRAINT check_team_invitation_invitee_lower CHECK (invitee = lower(invitee))
)
""",
    "CREATE UNIQUE INDEX uq_team_invitations_pending ON identity.team_invitations (team_id, invitee)"
    " WHERE state = 'pending'",
    "CREATE INDEX ix_team_invitations_team ON identity.team_invitations (team_id, created_at DESC, id DESC)",
    "CREATE INDEX ix_team_invitations_invitee_pending ON identity.team_invitations (invitee_user_id)"
    " WHERE state = 'pending'",
]

DOWNGRADE = ["DROP TABLE identity.team_invitations"]


def upgrade() -> None:
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
