"""Partition state as rows: a head per partition, a row per window, dedup ids in chunks.

`partition_state` keeps the name and columns of the table the collector created before it had
migrations (its `aggregation` then held the whole state; such rows still load, and their first
commit writes the windows and ids as rows), so an existing SQLite file is taken over as it is.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
    ]


def upgrade() -> None:
    """Create the three tables (the head table only if the pre-migration one is absent)."""
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "partition_state" not in tables:
        op.create_table(
            "partition_state",
            *_key(),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("revision", sa.BigInteger, nullable=False),
            sa.Column("aggregation", sa.LargeBinary, nullable=False),
            sa.Column("activity", sa.LargeBinary, nullable=False),
            sa.Column("committed_at", sa.String(64), nullable=False),
            sa.Column("committed_by", sa.String(255), nullable=False),
        )
    op.create_table(
        "partition_windows",
        *_key(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("cells", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "partition_ids",
        *_key(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True),
        sa.Column("ids", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    """Drop the window and id tables (the head table stays: it predates the migrations)."""
    op.drop_table("partition_ids")
    op.drop_table("partition_windows")
