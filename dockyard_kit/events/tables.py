"""The events backbone's tables, which every service keeps in its own schema.

`create_event_tables(op, schema)` is called by the kit's own migrations
(dockyard_kit/kit_migrations), which run in every service's schema, so the DDL lives here only;
`event_metadata(schema)` gives the same tables as SQLAlchemy Core objects.
"""

import dataclasses

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem


def _now() -> sa.TextClause:
    return sa.text("now()")


def _outbox() -> list[SchemaItem]:
    return [
        # BIGSERIAL: the publish order. enqueue() makes it equal commit order within one resource.
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("resource_type", sa.Text, nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        # The serialized dockyard.events.v1.Event, published as is.
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", name="outbox_event_id_key"),
        # The relay's "unpublished rows in id order" stays an index scan over the few unpublished
        # rows, however many published ones wait for clean-up.
        sa.Index("outbox_unpublished_idx", "id", postgresql_where=sa.text("published_at IS NULL")),
    ]


def _inbox() -> list[SchemaItem]:
    return [
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    ]


def _parked_events() -> list[SchemaItem]:
    return [
        # A short number for operators to name a parked event by.
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("consumer", "event_id", name="parked_events_consumer_event_id_key"),
    ]


_DEFINITIONS = {"outbox": _outbox, "inbox": _inbox, "parked_events": _parked_events}


@dataclasses.dataclass(frozen=True)
class EventTables:
    metadata: sa.MetaData
    outbox: sa.Table
    inbox: sa.Table
    parked_events: sa.Table


def event_metadata(schema: str) -> EventTables:
    """The three tables in `schema`, on a MetaData of their own."""
    metadata = sa.MetaData(schema=schema)
    tables = {name: sa.Table(name, metadata, *define()) for name, define in _DEFINITIONS.items()}
    return EventTables(metadata=metadata, **tables)


def create_event_tables(op, schema: str, *, keep_existing: bool = False) -> None:
    """For a migration: `create_event_tables(op, schema)`. With keep_existing, a table already in the
    schema (made by a service's own chain before the kit migrated its tables) is left as it is."""
    inspector = sa.inspect(op.get_bind()) if keep_existing else None
    for name, define in _DEFINITIONS.items():
        if inspector is None or not inspector.has_table(name, schema=schema):
            op.create_table(name, *define(), schema=schema)


def drop_event_tables(op, schema: str) -> None:
    for name in reversed(_DEFINITIONS):
        op.drop_table(name, schema=schema)
