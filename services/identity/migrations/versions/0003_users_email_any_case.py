"""identity: emails are unique whatever their case, so that signing in by email names one account.

Revision ID: 0003_users_email_any_case
"""

from alembic import op

revision = "0003_users_email_any_case"
down_revision = "0002_identity_model"


def upgrade() -> None:
    op.execute("CREATE UNIQUE INDEX uq_users_email_lower ON identity.users (lower(email))")


def downgrade() -> None:
    op.execute("DROP INDEX identity.uq_users_email_lower")
