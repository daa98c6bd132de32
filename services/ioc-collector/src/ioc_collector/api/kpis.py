"""GET /v1/kpis and GET /v1/kpis/{id}/series: the catalogue vs targets, and time series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ioc_collector.api.deps import ReportsDep
from ioc_collector.api.models import KpiCatalogue, KpiSeries
from ioc_collector.api.reports import parsed_period
from ioc_collector.service.reports import UnknownKpi
from lgsp_common.problems import FieldError, ProblemError

router = APIRouter(prefix="/v1", tags=["kpis"])
RESERVED = {"from", "to"}


@router.get(
    "/kpis",
    response_model=KpiCatalogue,
    responses={422: {"description": "Bad period"}},
)
async def list_kpis(
    reports: ReportsDep,
    period: Annotated[
        str | None,
        Query(description="Assess every KPI over this month (2026-11), quarter or year"),
    ] = None,
) -> KpiCatalogue:
    """Return every KPI (Vietnamese and English titles) with its latest value vs target."""
    return reports.catalogue(datetime.now(UTC), parsed_period(period) if period else None)


@router.get(
    "/kpis/{kpi_id}/series",
    response_model=KpiSeries,
    responses={404: {"description": "No such KPI"}, 422: {"description": "Bad parameters"}},
)
async def kpi_series(
    kpi_id: str,
    request: Request,
    reports: ReportsDep,
    start: Annotated[
        str | None, Query(alias="from", description="Date, month or date-time")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="Date, month or date-time")] = None,
) -> KpiSeries:
    """Return a KPI per window; other query parameters filter dimensions (district_code=747)."""
    dims = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    try:
        return reports.series(kpi_id, datetime.now(UTC), start, end, dims)
    except UnknownKpi as exc:
        raise ProblemError(404, "No such KPI", f"no KPI has the id {kpi_id!r}") from exc
    except ValueError as exc:
        raise ProblemError(
            422,
            "The request is not valid",
            str(exc),
            problem_type="invalid-request",
            errors=[FieldError(pointer="", rule="query", message=str(exc))],
        ) from exc
