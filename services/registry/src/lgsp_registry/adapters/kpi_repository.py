"""KPI rows to and from the API model."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters.tables import kpis
from lgsp_registry.domain.kpi_entities import Kpi


async def kpi(conn: AsyncConnection, kpi_id: str) -> Kpi | None:
    """Return one KPI."""
    row = (await conn.execute(sa.select(kpis).where(kpis.c.id == kpi_id))).first()
    return Kpi.model_validate(dict(row._mapping)) if row is not None else None


async def all_kpis(conn: AsyncConnection, topic: str | None = None) -> list[Kpi]:
    """Return every KPI, or those of one topic, by id."""
    where = [kpis.c.topic == topic] if topic else []
    rows = await conn.execute(sa.select(kpis).where(*where).order_by(kpis.c.id))
    return [Kpi.model_validate(dict(row._mapping)) for row in rows]


async def save(conn: AsyncConnection, entity: Kpi, *, new: bool) -> None:
    """Insert a new KPI row or replace an existing one."""
    values = entity.model_dump(mode="python")
    if new:
        await conn.execute(kpis.insert().values(**values))
    else:
        await conn.execute(kpis.update().where(kpis.c.id == entity.id).values(**values))


async def delete(conn: AsyncConnection, kpi_id: str) -> None:
    """Remove a KPI row."""
    await conn.execute(kpis.delete().where(kpis.c.id == kpi_id))
