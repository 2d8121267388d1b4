"""The deny-list's tables (dockyard_kit/revocations.py), as the kit's migrations make them in every
service's schema: here, where only the migrations import SQLAlchemy, not the running service."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dockyard_kit.revocations import API_TOKEN, NOT_BEFORE_TABLE, SESSION, TABLE, TOKEN_SOURCES_TABLE


def create_revocation_tables(op, schema: str, *, keep_existing: bool = False) -> None:
    """For a migration (the kit's own, in every service's schema): `create_revocation_tables(op,
    schema)`. With keep_existing, a table already in the schema is left as it is."""
    if keep_existing and sa.inspect(op.get_bind()).has_table(TABLE, schema=schema):
        return
    op.create_table(
        TABLE,
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("reason IN ('disabled', 'deleted')", name="check_revoked_users_reason"),
        schema=schema,
    )


def drop_revocation_tables(op, schema: str) -> None:
    op.drop_table(TABLE, schema=schema)


def create_token_revocation_tables(op, schema: str) -> None:
    """For the kit's migration 0002: ended sessions, revoked API tokens, users' not-befores."""
    op.create_table(
        TOKEN_SOURCES_TABLE,
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("source_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint(f"kind IN ('{SESSION}', '{API_TOKEN}')", name="check_revoked_token_sources_kind"),
        schema=schema,
    )
    op.create_table(
        NOT_BEFORE_TABLE,
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        schema=schema,
    )


def drop_token_revocation_tables(op, schema: str) -> None:
    op.drop_table(NOT_BEFORE_TABLE, schema=schema)
    op.drop_table(TOKEN_SOURCES_TABLE, schema=schema)
