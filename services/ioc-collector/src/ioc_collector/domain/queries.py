"""Reading KPIs out of the aggregation state: a window's value, a series, status vs target."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ioc_collector.domain.current_units import current_dims, derived_dimensions
from ioc_collector.domain.definitions import JsonScalar, KpiDefinition
from ioc_collector.domain.filters import same_value
from ioc_collector.domain.state import AggregationState, Cell, KpiState, cell_value, merged
from ioc_collector.domain.windows import Window, is_closed, windows_between

TargetStatus = Literal["met", "not_met", "no_data", "no_target"]
DimsFilter = Mapping[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class KpiValue:
    """A KPI's value over one window (rolled up over the dimensions not filtered on)."""

    kpi_id: str
    window: Window
    value: float | None
    closed: bool
    status: TargetStatus


@dataclass(frozen=True, slots=True)
class KpiCounters:
    """Events a KPI matched but did not apply, by reason."""

    late_events: int
    duplicate_events: int
    invalid_events: int


def target_status(kpi: KpiDefinition, value: float | None) -> TargetStatus:
    """Compare a value with the KPI's target: met, not met, no data, or no target set."""
    if value is None:
        return "no_data"
    if kpi.target is None:
        return "no_target"
    if kpi.target.direction == "gte":
        return "met" if value >= kpi.target.value else "not_met"
    return "met" if value <= kpi.target.value else "not_met"


def _check_dims(kpi: KpiDefinition, dims: DimsFilter | None) -> DimsFilter:
    dims = dims or {}
    known = (*kpi.dimensions, *derived_dimensions(kpi))
    unknown = sorted(set(dims) - set(known))
    if unknown:
        raise ValueError(f"KPI {kpi.id} has no dimension(s) {unknown}; it has {known}")
    return dims


def _selected(
    kpi: KpiDefinition, cells: Mapping[str, Cell], dims: DimsFilter, window: Window
) -> list[Cell]:
    picked = []
    derived = any(name not in kpi.dimensions for name in dims)
    for key, cell in cells.items():
        values: dict[str, JsonScalar] = dict(zip(kpi.dimensions, json.loads(key), strict=True))
        if derived:  # today's unit of the code the cell holds (current_units.py)
            values |= current_dims(kpi, values, window.start.date())
        if all(same_value(values[name], wanted) for name, wanted in dims.items()):
            picked.append(cell)
    return picked


def _window_value(
    kpi: KpiDefinition, state: AggregationState, window: Window, dims: DimsFilter
) -> KpiValue:
    kpi_state = state.kpis.get(kpi.id) or KpiState()
    cells: Mapping[str, Cell] = {}
    if window.key in kpi_state.open_windows:
        cells, closed = kpi_state.open_windows[window.key].cells, False
    elif window.key in kpi_state.closed_windows:
        cells, closed = kpi_state.closed_windows[window.key].cells, True
    else:
        closed = is_closed(window, kpi, kpi_state.watermark, state.clock)
    chosen = _selected(kpi, cells, dims, window)
    value = cell_value(kpi, merged(chosen)) if chosen else None
    return KpiValue(kpi.id, window, value, closed, target_status(kpi, value))


def current_value(
    state: AggregationState, kpi: KpiDefinition, window: Window, dims: DimsFilter | None = None
) -> KpiValue:
    """Return a KPI's value over one window, restricted to the given dimension values."""
    return _window_value(kpi, state, window, _check_dims(kpi, dims))


def series(
    state: AggregationState,
    kpi: KpiDefinition,
    start: datetime,
    end: datetime,
    dims: DimsFilter | None = None,
) -> list[KpiValue]:
    """Return the KPI's value for every window from the one containing `start` up to `end`."""
    dims = _check_dims(kpi, dims)
    return [_window_value(kpi, state, w, dims) for w in windows_between(start, end, kpi.window)]


def counters(state: AggregationState, kpi: KpiDefinition) -> KpiCounters:
    """Return how many matched events a KPI skipped as late, duplicate or invalid."""
    kpi_state = state.kpis.get(kpi.id) or KpiState()
    return KpiCounters(kpi_state.late_events, kpi_state.duplicate_events, kpi_state.invalid_events)
