"""Dependencies the routes share: the running app's `Runtime` and the parts of it they read.

They are coroutines: nothing in them blocks, so FastAPI need not send them to its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ioc_collector.bootstrap import Runtime
from ioc_collector.service.live_hub import LiveHub
from ioc_collector.service.merged_view import CollectorView
from ioc_collector.service.period_reports import PeriodReports
from ioc_collector.service.reports import Reports
from lgsp_common.problems import ProblemError


async def get_runtime(request: Request) -> Runtime:
    """Return what `bootstrap()` started for this app (503 while it is still starting)."""
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise ProblemError(503, "The collector is starting", "Try again in a few seconds.")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_reports(runtime: RuntimeDep) -> Reports:
    """Return the running app's report builder."""
    return runtime.reports


async def get_hub(runtime: RuntimeDep) -> LiveHub:
    """Return the running app's live hub."""
    return runtime.hub


async def get_view(runtime: RuntimeDep) -> CollectorView:
    """Return the running app's merged view of every partition."""
    return runtime.view


ReportsDep = Annotated[Reports, Depends(get_reports)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
ViewDep = Annotated[CollectorView, Depends(get_view)]


async def get_period_reports(runtime: RuntimeDep) -> PeriodReports:
    """Return the scorecard and periodic-report builder over the running app's state."""
    return PeriodReports(runtime.reports.definitions, runtime.view.aggregation)


PeriodReportsDep = Annotated[PeriodReports, Depends(get_period_reports)]
