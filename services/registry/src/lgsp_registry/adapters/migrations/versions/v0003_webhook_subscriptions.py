"""Webhook subscriptions of consumers (issue: share by push).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = 128
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the table of webhook subscriptions (secrets only as ciphertext)."""
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("consumer_id", sa.String(ID), sa.ForeignKey("consumers.id"), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secrets", sa.JSON, nullable=False),
        sa.Column("replay", sa.JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_webhook_subscriptions_consumer_id", "webhook_subscriptions", ["consumer_id"]
    )


def downgrade() -> None:
    """Drop the webhook subscriptions."""
    op.drop_index("ix_webhook_subscriptions_consumer_id", "webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
