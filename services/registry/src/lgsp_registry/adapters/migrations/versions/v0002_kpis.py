"""KPI definitions as registry data (issue: connect once, live).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = 128
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the table of KPI definitions (one row per KPI, its definition versioned)."""
    op.create_table(
        "kpis",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False, index=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the KPI definitions."""
    op.drop_table("kpis")
