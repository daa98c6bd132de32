"""Audit anchors in the registry's database: published public keys and signed checkpoints.

Checkpoints are append only: a checkpoint is stored once (its SHA-256 digest is unique) and never
changed or deleted, so it outlives the compacted topic it came from. The body is kept as
received, byte for byte, so its signature still verifies when it is served back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lgsp_registry.adapters.tables import ID, UtcDateTime, metadata

audit_keys = sa.Table(
    "audit_keys",
    metadata,
    sa.Column("key_id", sa.String(ID), primary_key=True),
    sa.Column("public_key", sa.String(200), nullable=False),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("service", sa.String(ID), nullable=True),
    sa.Column("valid_from", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
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
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("ix_audit_checkpoints_chain_seq", "chain", "seq"),
)


async def key(conn: AsyncConnection, key_id: str) -> dict[str, Any] | None:
    """Return one published key."""
    found = (await conn.execute(sa.select(audit_keys).where(audit_keys.c.key_id == key_id))).first()
    return dict(found._mapping) if found is not None else None


async def all_keys(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Return every published key, oldest first."""
    rows = await conn.execute(sa.select(audit_keys).order_by(audit_keys.c.valid_from))
    return [dict(r._mapping) for r in rows]


async def insert_key(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Publish a new key."""
    await conn.execute(audit_keys.insert().values(**values))


async def retire_key(conn: AsyncConnection, key_id: str, retired_at: datetime | None) -> None:
    """Set (or clear) when a key stopped signing."""
    await conn.execute(
        audit_keys.update().where(audit_keys.c.key_id == key_id).values(retired_at=retired_at)
    )


async def store_checkpoint(engine: AsyncEngine, body: bytes, at: datetime) -> bool:
    """Store a checkpoint (as received) unless it is there already; True when it is new."""
    loaded = orjson.loads(body)
    digest = hashlib.sha256(body).hexdigest()
    values = {
        "chain": str(loaded["chain"]),
        "seq": int(loaded["seq"]),
        "digest": digest,
        "body": body.decode("utf-8"),
        "received_at": at,
    }
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(
                sa.select(audit_checkpoints.c.id).where(audit_checkpoints.c.digest == digest)
            )
            if exists is not None:
                return False
            await conn.execute(audit_checkpoints.insert().values(**values))
    except IntegrityError:  # another registry instance stored it first
        return False
    return True


async def checkpoints(conn: AsyncConnection, chain: str | None) -> list[Any]:
    """Return the stored checkpoints (of one chain, if named) in chain and seq order."""
    query = sa.select(audit_checkpoints.c.body).order_by(
        audit_checkpoints.c.chain, audit_checkpoints.c.seq, audit_checkpoints.c.id
    )
    if chain is not None:
        query = query.where(audit_checkpoints.c.chain == chain)
    return [orjson.loads(body) for body in (await conn.scalars(query))]
