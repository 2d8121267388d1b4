"""kit: the deny-list of ended sessions and revoked API tokens (revoked_token_sources) and of
session tokens issued before a user's password change (session_not_before), in the schema being
migrated.

Revision ID: 0002_token_revocations
Revises: 0001_kit_tables
"""

from alembic import op

from dockyard_kit.kit_migrations.revocation_tables import (
    create_token_revocation_tables,
    drop_token_revocation_tables,
)
from dockyard_kit.migrations import migrating_schema

revision = "0002_token_revocations"
down_revision = "0001_kit_tables"


def upgrade() -> None:
    create_token_revocation_tables(op, migrating_schema())


def downgrade() -> None:
    drop_token_revocation_tables(op, migrating_schema())
