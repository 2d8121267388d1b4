"""deployer: the deny-list of disabled and deleted users (dockyard_kit/revocations.py).

Revision ID: 0002_revoked_users
"""

from alembic import op

from dockyard_kit.revocations import create_revocation_tables, drop_revocation_tables

revision = "0002_revoked_users"
down_revision = "0001_event_tables"


def upgrade() -> None:
    create_revocation_tables(op, "deployer")


def downgrade() -> None:
    drop_revocation_tables(op, "deployer")
