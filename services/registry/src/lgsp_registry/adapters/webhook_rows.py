"""Webhook subscription rows to and from `SubscriptionRow` (sealed secrets included)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters.tables import webhook_subscriptions as table
from lgsp_registry.domain.webhooks import SubscriptionRow


def _row(found: Any) -> SubscriptionRow:
    return SubscriptionRow.model_validate(dict(found._mapping))


async def one(conn: AsyncConnection, subscription_id: str) -> SubscriptionRow | None:
    """Return one subscription."""
    found = (await conn.execute(sa.select(table).where(table.c.id == subscription_id))).first()
    return _row(found) if found is not None else None


async def of_consumer(conn: AsyncConnection, consumer_id: str) -> list[SubscriptionRow]:
    """Return a consumer's subscriptions, oldest first."""
    rows = await conn.execute(
        sa.select(table).where(table.c.consumer_id == consumer_id).order_by(table.c.created_at)
    )
    return [_row(r) for r in rows]


async def insert(conn: AsyncConnection, row: SubscriptionRow) -> None:
    """Insert a new subscription (version 1)."""
    values = {**row.model_dump(mode="json"), "created_at": row.created_at}
    await conn.execute(table.insert().values(**values, version=1))


async def save(conn: AsyncConnection, row: SubscriptionRow) -> int:
    """Write a subscription's new state and bump its version; returns the new version."""
    values = row.model_dump(mode="json", include={"status", "secrets", "replay"})
    await conn.execute(
        table.update().where(table.c.id == row.id).values(**values, version=table.c.version + 1)
    )
    return int(await conn.scalar(sa.select(table.c.version).where(table.c.id == row.id)) or 0)


async def delete(conn: AsyncConnection, subscription_id: str) -> int:
    """Delete a subscription; returns the version its delete event takes."""
    version = await conn.scalar(sa.select(table.c.version).where(table.c.id == subscription_id))
    await conn.execute(table.delete().where(table.c.id == subscription_id))
    return int(version or 0) + 1
