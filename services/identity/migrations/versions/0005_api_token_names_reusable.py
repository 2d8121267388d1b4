"""identity: an API token's name is unique among its owner's live tokens only, so that the name of
a deleted (revoked) token can be given to its replacement.

Revision ID: 0005_api_token_names_reusable
"""

from alembic import op

revision = "0005_api_token_names_reusable"
down_revision = "0003_users_email_any_case"


def upgrade() -> None:
    op.execute("ALTER TABLE identity.api_tokens DROP CONSTRAINT uq_api_tokens_user_name")
    op.execute(
        "CREATE UNIQUE INDEX uq_api_tokens_user_live_name ON identity.api_tokens (user_id, name)"
        " WHERE revoked_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX identity.uq_api_tokens_user_live_name")
    op.execute(
        "ALTER TABLE identity.api_tokens ADD CONSTRAINT uq_api_tokens_user_name UNIQUE (user_id, name)"
    )
