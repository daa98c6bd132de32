"""Recoverable deletes: sources and consumers keep their row (deleted_at, deleted_by and the
status to restore), keys the delete suspended say when; the registry's own audit records wait
in `audit_outbox` (written with the change they record) until published.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
_DELETABLE = ("sources", "consumers")


def upgrade() -> None:
    """Add the soft-delete columns and the audit outbox."""
    for table in _DELETABLE:
        op.add_column(table, sa.Column("deleted_at", TIME, nullable=True))
        op.add_column(table, sa.Column("deleted_by", sa.String(200), nullable=True))
        op.add_column(table, sa.Column("status_before_delete", sa.String(16), nullable=True))
    op.add_column("api_keys", sa.Column("suspended_at", TIME, nullable=True))
    op.create_table(
        "audit_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("record_key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )


def downgrade() -> None:
    """Drop them again (soft-deleted rows then look live: purge them first)."""
    op.drop_table("audit_outbox")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("suspended_at")
    for table in _DELETABLE:
        with op.batch_alter_table(table) as batch:
            for column in ("status_before_delete", "deleted_by", "deleted_at"):
                batch.drop_column(column)
