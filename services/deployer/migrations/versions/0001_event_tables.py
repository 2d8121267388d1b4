"""deployer: the events backbone's outbox, inbox and parked events.

Revision ID: 0001_event_tables
"""

from alembic import op

from dockyard_kit.events.tables import create_event_tables, drop_event_tables

revision = "0001_event_tables"
down_revision = None


def upgrade() -> None:
    create_event_tables(op, "deployer")


def downgrade() -> None:
    drop_event_tables(op, "deployer")
