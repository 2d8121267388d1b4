"""The tables of a service's read model of identity (dockyard_kit/identity_read_model.py), for the
service's own migration: here, where only the migrations import SQLAlchemy, not the running service.
The same tables projects' migration 0003 makes in its schema."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def create_identity_read_model_tables(op, schema: str) -> None:
    """`create_identity_read_model_tables(op, schema)` in a migration's upgrade. The roles are spelled
    out, not taken from the code: a migration makes the same tables whenever it runs."""
    # Fed by identity.team_member.* events: who is in which team, with which role. The membership id
    # lets a late "removed" of an old membership leave a newer one alone.
    op.create_table(
        "team_members",
        sa.Column("team_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("membership_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="check_team_member_role"),
        schema=schema,
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"], schema=schema)
    # Fed by identity.user.* events: each user's current platform role, so a demotion takes effect
    # before the caller's access token expires.
    op.create_table(
        "user_roles",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("role IN ('super_admin', 'admin', 'developer', 'viewer')", name="check_user_role"),
        schema=schema,
    )


def drop_identity_read_model_tables(op, schema: str) -> None:
    """In a migration's downgrade."""
    op.drop_table("user_roles", schema=schema)
    op.drop_table("team_members", schema=schema)
