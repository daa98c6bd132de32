"""GET /v1/sources/health: freshness, volume, rejections and lag of every source."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from ioc_collector.api.deps import ReportsDep
from ioc_collector.api.models import HealthReport

router = APIRouter(prefix="/v1", tags=["sources"])


@router.get("/sources/health", response_model=HealthReport)
async def sources_health(reports: ReportsDep) -> HealthReport:
    """Return each source's status (OK, LATE, SILENT against its cadence) and each topic's lag."""
    return reports.health(datetime.now(UTC))
