"""Dependencies the routes share: the report builder and the live hub of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ioc_collector.adapters.view import CollectorView
from ioc_collector.live import LiveHub
from ioc_collector.reports import Reports
from lgsp_common.problems import ProblemError


def _state(request: Request, name: str) -> object:
    found = getattr(request.app.state, name, None)
    if found is None:
        raise ProblemError(503, "The collector is starting", "Try again in a few seconds.")
    return found


def get_reports(request: Request) -> Reports:
    """Return the running app's report builder."""
    found = _state(request, "reports")
    assert isinstance(found, Reports)
    return found


def get_hub(request: Request) -> LiveHub:
    """Return the running app's live hub."""
    found = _state(request, "hub")
    assert isinstance(found, LiveHub)
    return found


def get_view(request: Request) -> CollectorView:
    """Return the running app's merged view."""
    found = _state(request, "view")
    assert isinstance(found, CollectorView)
    return found


ReportsDep = Annotated[Reports, Depends(get_reports)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
ViewDep = Annotated[CollectorView, Depends(get_view)]
