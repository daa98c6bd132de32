"""Routes for KPIs: definitions pushed to the registry, checked against their topic's contract."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Response

from lgsp_common.problems import ProblemError
from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, MetricsDep, problems
from lgsp_registry.domain.kpi_entities import Kpi, KpiCheck
from lgsp_registry.domain.kpi_format import SCHEMA_ID, SLUG
from lgsp_registry.metrics import RegistryMetrics
from lgsp_registry.service import kpis as service

router = APIRouter(prefix="/v1", tags=["KPIs"])
T = TypeVar("T")
KpiId = Annotated[str, Path(pattern=SLUG, max_length=64, description="The KPI's id")]
Definition = Annotated[
    dict[str, Any],
    Body(
        description=f"A KPI definition ({SCHEMA_ID}); fields are checked against the topic's "
        "latest contract",
        examples=[
            {
                "id": "online-dossier-rate",
                "title_vi": "Tỷ lệ hồ sơ nộp trực tuyến",
                "title_en": "Online dossier submission rate",
                "topic": "tthc.dossier.v1",
                "measure": {
                    "kind": "ratio",
                    "numerator": {
                        "kind": "count",
                        "filter": {"where": [{"field": "channel", "op": "eq", "value": "online"}]},
                    },
                    "denominator": {"kind": "count"},
                },
                "window": "month",
                "unit": "%",
            }
        ],
    ),
]


async def _judged(metrics: RegistryMetrics, call: Awaitable[T]) -> T:
    """Count the verdict on a definition: accepted, or refused with a 422."""
    try:
        result = await call
    except ProblemError as exc:
        if exc.problem.status == 422:
            metrics.record_kpi_check(accepted=False)
        raise
    metrics.record_kpi_check(accepted=True)
    return result


@router.get("/kpis", response_model=list[Kpi])
async def list_kpis(ctx: ContextDep, topic: str | None = None) -> list[Kpi]:
    """List the KPIs, optionally of one topic (Danh sách chỉ số)."""
    return await service.listing(ctx, topic)


@router.post("/kpis/check", response_model=KpiCheck, responses=problems(400, 413, 415, 422))
async def check_kpi(body: Definition, ctx: ContextDep, metrics: MetricsDep) -> KpiCheck:
    """Dry run: would this definition be accepted? 422 naming each failing place; no write."""
    return await _judged(metrics, service.check(ctx, body))


@router.post(
    "/kpis",
    status_code=201,
    response_model=Kpi,
    responses={200: {"model": Kpi, "description": "Already registered"}, **WRITE_PROBLEMS},
)
async def create_kpi(
    body: Definition, ctx: ContextDep, who: CallerDep, response: Response, metrics: MetricsDep
) -> Kpi:
    """Register a KPI (operator); 409 when the id exists with another definition."""
    kpi, changed = await _judged(metrics, service.create(ctx, who, body))
    response.status_code = 201 if changed else 200
    return kpi


@router.get("/kpis/{kpi_id}", response_model=Kpi, responses=problems(404))
async def get_kpi(kpi_id: KpiId, ctx: ContextDep) -> Kpi:
    """Return one KPI and its current definition."""
    return await service.get(ctx, kpi_id)


@router.put(
    "/kpis/{kpi_id}",
    response_model=Kpi,
    responses={201: {"model": Kpi, "description": "Created"}, **WRITE_PROBLEMS},
)
async def put_kpi(
    kpi_id: KpiId,
    body: Definition,
    ctx: ContextDep,
    who: CallerDep,
    response: Response,
    metrics: MetricsDep,
) -> Kpi:
    """Register a KPI or a new version of it (operator); an identical definition is kept."""
    kpi, changed = await _judged(metrics, service.put(ctx, who, kpi_id, body))
    response.status_code = 201 if changed and kpi.version == 1 else 200
    return kpi


@router.delete("/kpis/{kpi_id}", status_code=204, responses=WRITE_PROBLEMS)
async def delete_kpi(kpi_id: KpiId, ctx: ContextDep, who: CallerDep) -> Response:
    """Delete a KPI; collectors stop serving it."""
    await service.delete(ctx, who, kpi_id)
    return Response(status_code=204)
