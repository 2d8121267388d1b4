"""identity: the deny-list of disabled and deleted users (dockyard_kit/revocations.py), kept from
identity's own events like every other service's, so that all services decide the same way.

Revision ID: 0004_revoked_users
"""

from alembic import op

from dockyard_kit.revocations import create_revocation_tables, drop_revocation_tables

revision = "0004_revoked_users"
down_revision = "0003_users_email_any_case"


def upgrade() -> None:
    create_revocation_tables(op, "identity")


def downgrade() -> None:
    drop_revocation_tables(op, "identity")
