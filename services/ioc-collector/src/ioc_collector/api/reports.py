"""GET /v1/scorecard and GET /v1/reports/{period}: the Steering Committee's scorecard and report.

The report answers JSON by default, a printable HTML page for `Accept: text/html` or
`?format=html`, and an Excel workbook for `?format=xlsx`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from ioc_collector.api.deps import PeriodReportsDep
from ioc_collector.api.report_html import render_html
from ioc_collector.api.report_models import PeriodReport, ScorecardView
from ioc_collector.domain.periods import Period, PeriodError, parse_period
from ioc_collector.service.report_xlsx import XLSX_MEDIA_TYPE, render_xlsx
from lgsp_common.problems import FieldError, ProblemError

router = APIRouter(prefix="/v1", tags=["reports"])
Format = Literal["json", "html", "xlsx"]


def parsed_period(text: str, pointer: str = "/period") -> Period:
    """Parse a period parameter, or answer 422 problem+json naming it."""
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise ProblemError(
            422,
            "The period is not valid",
            str(exc),
            problem_type="invalid-request",
            errors=[FieldError(pointer=pointer, rule="period", message=str(exc))],
        ) from exc


@router.get(
    "/scorecard",
    response_model=ScorecardView,
    responses={422: {"description": "Bad period"}},
)
async def get_scorecard(
    reports: PeriodReportsDep,
    period: Annotated[
        str | None,
        Query(description="Assess every target over this period instead of its own latest one"),
    ] = None,
) -> ScorecardView:
    """Return targets met out of targets set (chỉ tiêu đạt), per group and overall."""
    return reports.scorecard(datetime.now(UTC), parsed_period(period) if period else None)


def _wanted(request: Request, format_: Format | None) -> Format:
    if format_ is not None:
        return format_
    accept = request.headers.get("accept", "")
    return "html" if "text/html" in accept else "json"


@router.get(
    "/reports/{period}",
    response_model=PeriodReport,
    responses={
        200: {
            "content": {"text/html": {}, XLSX_MEDIA_TYPE: {}},
            "description": "JSON; a printable page (Accept: text/html or ?format=html); "
            "an Excel workbook (?format=xlsx)",
        },
        422: {"description": "Bad period"},
    },
)
async def get_report(
    period: str,
    request: Request,
    reports: PeriodReportsDep,
    format_: Annotated[Format | None, Query(alias="format")] = None,
) -> Response | PeriodReport:
    """Return the month's (2026-11), quarter's (2026-Q4) or year's (2026) report."""
    report = reports.report(parsed_period(period), datetime.now(UTC))
    wanted = _wanted(request, format_)
    if wanted == "html":
        return HTMLResponse(render_html(report))
    if wanted == "xlsx":
        name = f"bao-cao-ioc-{report.period.id}.xlsx"
        return Response(
            render_xlsx(report),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report
