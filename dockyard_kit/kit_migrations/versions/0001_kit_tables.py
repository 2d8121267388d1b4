"""kit: the events backbone's outbox, inbox and parked events, and the deny-list of disabled and
deleted users, in the schema being migrated.

Until Dockyard 0.1 each service's own chain made these tables (its "0001_event_tables" and
"*_revoked_users" revisions). This revision adopts them where they exist, keeping their rows, and
forgets those revisions in the service's version table (dropping the table if nothing else is left
in it), so that the service's chain, which no longer has them, carries on from its own revisions.
A schema recorded at a revision of 0.1's chains that is gone and not listed here (identity's
0004_revoked_users, before 0.1 added 0005) must be brought to 0.1's head first.

Revision ID: 0001_kit_tables
"""

import sqlalchemy as sa
from alembic import op

from dockyard_kit.events.tables import create_event_tables, drop_event_tables
from dockyard_kit.kit_migrations.revocation_tables import create_revocation_tables, drop_revocation_tables
from dockyard_kit.migrations import SERVICE_VERSION_TABLE, migrating_schema

revision = "0001_kit_tables"
down_revision = None

# The revisions of 0.1's service chains that made kit tables and nothing else.
ADOPTED_SERVICE_REVISIONS = ["0001_event_tables", "0002_revoked_users"]


def upgrade() -> None:
    schema = migrating_schema()
    create_event_tables(op, schema, keep_existing=True)
    create_revocation_tables(op, schema, keep_existing=True)
    if not sa.inspect(op.get_bind()).has_table(SERVICE_VERSION_TABLE, schema=schema):
        return
    versions = sa.table(SERVICE_VERSION_TABLE, sa.column("version_num"), schema=schema)
    op.execute(versions.delete().where(versions.c.version_num.in_(ADOPTED_SERVICE_REVISIONS)))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(versions)).scalar() == 0:
        op.drop_table(SERVICE_VERSION_TABLE, schema=schema)


def downgrade() -> None:
    schema = migrating_schema()
    drop_revocation_tables(op, schema)
    drop_event_tables(op, schema)
