"""Audit anchors: published audit public keys and every signed audit checkpoint (append only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = 128
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the audit keys and the append-only audit checkpoints."""
    op.create_table(
        "audit_keys",
        sa.Column("key_id", sa.String(ID), primary_key=True),
        sa.Column("public_key", sa.String(200), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("service", sa.String(ID), nullable=True),
        sa.Column("valid_from", TIME, nullable=False),
        sa.Column("retired_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("chain", sa.String(300), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
    )
    op.create_index("ix_audit_checkpoints_chain_seq", "audit_checkpoints", ["chain", "seq"])


def downgrade() -> None:
    """Drop the audit anchors."""
    op.drop_index("ix_audit_checkpoints_chain_seq", "audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_keys")
