"""A topic's live KPIs as readers of its fields, for the consumer-aware compatibility check."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters import kpi_repository as kpi_repo
from lgsp_registry.domain.compatibility import ConsumerFields
from lgsp_registry.domain.kpi_rules import read_fields
from lgsp_registry.service.errors import KPI_READER


async def kpi_readers(conn: AsyncConnection, topic: str) -> list[ConsumerFields]:
    """Return each live KPI of a topic as a consumer (`kpi:<id>`) of the fields it reads."""
    return [
        ConsumerFields(
            consumer_id=f"{KPI_READER}{kpi.id}",
            name=f"KPI {kpi.definition.get('title_en', kpi.id)}",
            fields=read_fields(kpi.definition),
        )
        for kpi in await kpi_repo.all_kpis(conn, topic)
    ]
