"""probe: two tables whose constraints the error-mapping tests violate (the kit makes its own).

Revision ID: 0001_probe
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_probe"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "widgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), nullable=False, unique=True),
        sa.Column("size_gb", sa.Integer, nullable=False),
        sa.CheckConstraint("size_gb > 0", name="check_size_positive"),
        schema="probe",
    )
    op.create_table(
        "widget_parts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "widget_id", sa.Integer, sa.ForeignKey("probe.widgets.id", ondelete="RESTRICT"), nullable=False
        ),
        schema="probe",
    )


def downgrade() -> None:
    op.drop_table("widget_parts", schema="probe")
    op.drop_table("widgets", schema="probe")
