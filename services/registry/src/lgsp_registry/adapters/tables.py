"""The registry's tables (SQLAlchemy Core). Alembic migrations create them; keep both in step.

Every entity row carries `version`, bumped on each change and copied into its change event. The
`outbox` holds change events written in the same transaction as the change (transactional
outbox), until the publisher has them acknowledged by Kafka. `write_lock` has one row that every
write transaction updates first: writes are serialised (they are rare), so outbox order is commit
order and a subject's next version number cannot be taken twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, also on SQLite (which stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
ID = 128

write_lock = sa.Table(
    "write_lock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("counter", sa.BigInteger, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name_vi", sa.String(300), nullable=False),
    sa.Column("name_en", sa.String(300), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("cadence", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_by", sa.String(200), nullable=True),
    sa.Column("status_before_delete", sa.String(16), nullable=True),
)

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("compatibility", sa.String(32), nullable=True),
    sa.Column("policy", sa.String(16), nullable=True),
)

contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("subject", sa.String(200), sa.ForeignKey("subjects.subject"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("compatibility", sa.String(32), nullable=False),
    sa.Column("policy", sa.String(16), nullable=False),
    sa.Column("examples", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("subject", "version", name="uq_contracts_subject_version"),
)

consumers = sa.Table(
    "consumers",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False, index=True),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_by", sa.String(200), nullable=True),
    sa.Column("status_before_delete", sa.String(16), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("source_id", sa.String(ID), sa.ForeignKey("sources.id"), nullable=True),
    sa.Column("consumer_id", sa.String(ID), sa.ForeignKey("consumers.id"), nullable=True),
    sa.Column("organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=True),
    sa.Column("key_hash", sa.String(80), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("suspended_at", UtcDateTime, nullable=True),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("organisation_id", sa.String(ID), sa.ForeignKey("organisations.id"), nullable=True),
    sa.Column("token_hash", sa.String(80), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
)

kpis = sa.Table(
    "kpis",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("topic", sa.String(200), nullable=False, index=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("consumer_id", sa.String(ID), sa.ForeignKey("consumers.id"), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(300), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("secrets", sa.JSON, nullable=False),
    sa.Column("replay", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_webhook_subscriptions_consumer_id", "consumer_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("record_key", sa.String(300), nullable=False),
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The registry's own audit records (and their checkpoints), written in the transaction of the
# change they record and published like the outbox, each to the topic it names.
audit_outbox = sa.Table(
    "audit_outbox",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("record_key", sa.String(300), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
