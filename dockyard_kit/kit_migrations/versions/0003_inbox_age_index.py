"""kit: an index on inbox.processed_at, in the schema being migrated, so that pruning the inbox by age
(dockyard_kit/events/retention.py) reads the old rows only, not the whole table.

Revision ID: 0003_inbox_age_index
Revises: 0002_token_revocations
"""

from alembic import op

from dockyard_kit.migrations import migrating_schema

revision = "0003_inbox_age_index"
down_revision = "0002_token_revocations"


def upgrade() -> None:
    op.execute(f'CREATE INDEX ix_inbox_processed_at ON "{migrating_schema()}".inbox (processed_at)')


def downgrade() -> None:
    op.execute(f'DROP INDEX "{migrating_schema()}".ix_inbox_processed_at')
