"""Initial schema: organisations, sources, subjects, contracts, consumers, API keys, outbox.

Revision ID: 0001
Revises:
Create Date: 2024-10-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 128
TIME = sa.DateTime(timezone=True)


def _entities() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name_vi", sa.String(300), nullable=False),
        sa.Column("name_en", sa.String(300), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("topic", sa.String(200), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "consumers",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("topic", sa.String(200), nullable=False, index=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def _contracts() -> None:
    op.create_table(
        "subjects",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("compatibility", sa.String(32), nullable=True),
        sa.Column("policy", sa.String(16), nullable=True),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("subject", sa.String(200), sa.ForeignKey("subjects.subject"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("compatibility", sa.String(32), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("examples", sa.JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("subject", "version", name="uq_contracts_subject_version"),
    )


def _keys_and_outbox() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("source_id", sa.String(ID), sa.ForeignKey("sources.id"), nullable=True),
        sa.Column("consumer_id", sa.String(ID), sa.ForeignKey("consumers.id"), nullable=True),
        sa.Column(
            "organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=True
        ),
        sa.Column("key_hash", sa.String(80), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("record_key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
    )


def upgrade() -> None:
    """Create every table and the single write-lock row."""
    lock = op.create_table(
        "write_lock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("counter", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(lock, [{"id": 1, "counter": 0}])
    op.create_table(
        "settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    _entities()
    _contracts()
    _keys_and_outbox()


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "outbox",
        "api_keys",
        "contracts",
        "subjects",
        "consumers",
        "sources",
        "organisations",
        "settings",
        "write_lock",
    ):
        op.drop_table(table)
