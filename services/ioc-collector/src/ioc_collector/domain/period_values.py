"""A KPI's value over a reporting period, computed from the KPI's own windows.

Every window (hour, day or month, in local time) lies inside exactly one month, quarter and
year, so a period's value is the KPI's measure over the union of the windows it contains: their
cells are merged (counts and sums add, an average is total over count, a distinct count is the
size of the union of the value sets, a ratio divides the merged numerator by the merged
denominator) and the value is taken once. For a KPI with month windows and a month period this
is exactly the month window's value; a quarter of a month KPI is *not* the mean of its three
monthly rates but the rate over the quarter's events. A period none of whose windows holds data
has no value ("không có dữ liệu", no data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.periods import Period, PeriodKind, period_containing
from ioc_collector.domain.queries import TargetStatus, target_status
from ioc_collector.domain.state import AggregationState, Cell, KpiState, cell_value, merged
from ioc_collector.domain.windows import is_closed, window_for, window_from_key, windows_between


@dataclass(frozen=True, slots=True)
class PeriodValue:
    """A KPI's value over one period, how many of its windows held data, and if all are final."""

    kpi_id: str
    period: Period
    value: float | None
    windows_with_data: int
    closed: bool
    status: TargetStatus


def period_value(state: AggregationState, kpi: KpiDefinition, period: Period) -> PeriodValue:
    """Return the KPI's value over `period`, rolled up over every dimension value."""
    kpi_state = state.kpis.get(kpi.id) or KpiState()
    cells: list[Cell] = []
    windows_with_data = 0
    closed = True
    if len(kpi_state.open_windows) + len(kpi_state.closed_windows) <= _dense(kpi, period):
        keys = _keys_within(kpi_state, kpi, period)
    else:
        keys = [w.key for w in windows_between(period.start, period.end, kpi.window)]
    for key in keys:
        if key in kpi_state.open_windows:
            found = list(kpi_state.open_windows[key].cells.values())
            closed = False
        elif key in kpi_state.closed_windows:
            found = list(kpi_state.closed_windows[key].cells.values())
        else:
            continue
        windows_with_data += 1 if found else 0
        cells += found
    last_window = window_for(period.end - timedelta(microseconds=1), kpi.window)
    closed = closed and is_closed(last_window, kpi, kpi_state.watermark, state.clock)
    value = cell_value(kpi, merged(cells)) if cells else None
    return PeriodValue(kpi.id, period, value, windows_with_data, closed, status_of(kpi, value))


def _dense(kpi: KpiDefinition, period: Period) -> int:
    """Return about how many windows the period holds (to pick the cheaper way to look)."""
    per_month = {"hour": 744, "day": 31, "month": 1}[kpi.window]
    return per_month * period.months


def _keys_within(kpi_state: KpiState, kpi: KpiDefinition, period: Period) -> list[str]:
    keys = [*kpi_state.open_windows, *kpi_state.closed_windows]
    return [
        key for key in keys if period.start <= window_from_key(key, kpi.window).start < period.end
    ]


def status_of(kpi: KpiDefinition, value: float | None) -> TargetStatus:
    """Return met / not_met against the target, no_target without one, no_data without a value."""
    if kpi.target is None:
        return "no_target"
    return target_status(kpi, value)


def target_period_kind(kpi: KpiDefinition) -> PeriodKind:
    """Return the period a KPI's target is assessed over (month when it has no target)."""
    return kpi.target.period if kpi.target is not None else "month"


def latest_period(
    state: AggregationState, kpi: KpiDefinition, kind: PeriodKind, now: datetime
) -> Period:
    """Return the period of `kind` holding the KPI's newest window with data (else: now's)."""
    kpi_state = state.kpis.get(kpi.id)
    keys = [*kpi_state.open_windows, *kpi_state.closed_windows] if kpi_state else []
    if keys:
        newest = max(window_from_key(key, kpi.window) for key in keys)
        return period_containing(newest.start, kind)
    return period_containing(now, kind)
