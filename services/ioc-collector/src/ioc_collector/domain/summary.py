"""What the API, the dashboard and the `ioc.kpi` topic show of a KPI, read from a merged state.

The tile of a KPI shows its latest window that holds data (the department streams may lag the
calendar by days or months), the window before it for the trend, and a short history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ioc_collector.domain.aggregate import dims_of
from ioc_collector.domain.current_units import labels
from ioc_collector.domain.definitions import JsonScalar, KpiDefinition, WindowSize
from ioc_collector.domain.queries import KpiValue, counters, current_value, series, target_status
from ioc_collector.domain.state import AggregationState, cell_value, merged
from ioc_collector.domain.windows import Window, window_for, window_from_key
from lgsp_vn.admin_units import REFORM_DATE

Trend = Literal["up", "down", "flat"]
HISTORY = 12
TOTAL = "*"  # the dimension key of a window's roll-up over every dimension value


@dataclass(frozen=True, slots=True)
class KpiSummary:
    """A KPI's latest value, the one before, and the recent history."""

    kpi: KpiDefinition
    latest: KpiValue
    previous: KpiValue | None
    trend: Trend | None
    history: list[KpiValue]
    late_events: int
    duplicate_events: int
    invalid_events: int


def previous_window(window: Window, size: WindowSize) -> Window:
    """Return the window just before `window`."""
    return window_for(window.start - timedelta(microseconds=1), size)


def latest_window(state: AggregationState, kpi: KpiDefinition, now: datetime) -> Window:
    """Return the newest window holding data, else the window containing `now`."""
    kpi_state = state.kpis.get(kpi.id)
    keys = list(kpi_state.open_windows) + list(kpi_state.closed_windows) if kpi_state else []
    if not keys:
        return window_for(now, kpi.window)
    return max(window_from_key(key, kpi.window) for key in keys)


def _trend(latest: float | None, previous: float | None) -> Trend | None:
    if latest is None or previous is None:
        return None
    if latest > previous:
        return "up"
    return "down" if latest < previous else "flat"


def summarise(state: AggregationState, kpi: KpiDefinition, now: datetime) -> KpiSummary:
    """Return the KPI's tile: latest window value vs target, trend and history."""
    window = latest_window(state, kpi, now)
    latest = current_value(state, kpi, window)
    before = previous_window(window, kpi.window)
    previous = current_value(state, kpi, before)
    start = window
    for _ in range(HISTORY - 1):
        start = previous_window(start, kpi.window)
    history = series(state, kpi, start.start, window.end)
    count = counters(state, kpi)
    return KpiSummary(
        kpi=kpi,
        latest=latest,
        previous=previous if previous.value is not None else None,
        trend=_trend(latest.value, previous.value),
        history=history,
        late_events=count.late_events,
        duplicate_events=count.duplicate_events,
        invalid_events=count.invalid_events,
    )


def dimension_values(state: AggregationState, kpi: KpiDefinition) -> dict[str, list[JsonScalar]]:
    """Return, per dimension, the values that occur in the KPI's cells (sorted as text)."""
    found: dict[str, dict[str, JsonScalar]] = {name: {} for name in kpi.dimensions}
    for values, _ in _cell_dims(state, kpi):
        for name, value in values.items():
            found[name][json.dumps(value)] = value
    return {name: [values[k] for k in sorted(values)] for name, values in found.items()}


def current_unit_values(state: AggregationState, kpi: KpiDefinition) -> dict[str, dict[str, str]]:
    """Return today's units (value -> Vietnamese name) the KPI's cells map to, per derived
    dimension (`current_unit`, `current_province`); empty for a KPI without unit codes."""
    return labels(kpi, list(_cell_dims(state, kpi)))


def _cell_dims(
    state: AggregationState, kpi: KpiDefinition
) -> Iterator[tuple[dict[str, JsonScalar], date]]:
    """Yield the dimension values of the KPI's cells, each with the first day of a window it is in.

    Once per cell key and side of the reform: a code's current unit depends on nothing else.
    """
    kpi_state = state.kpis.get(kpi.id)
    if kpi_state is None:
        return
    windows = [(key, w.cells) for key, w in kpi_state.open_windows.items()]
    windows += [(key, w.cells) for key, w in kpi_state.closed_windows.items()]
    seen: set[tuple[str, bool]] = set()
    for window_key, cells in windows:
        start = window_from_key(window_key, kpi.window).start.date()
        for key in cells:
            if (key, start < REFORM_DATE) not in seen:
                seen.add((key, start < REFORM_DATE))
                yield dims_of(kpi, key), start


def typed_dims(
    state: AggregationState, kpi: KpiDefinition, wanted: Mapping[str, str]
) -> dict[str, JsonScalar]:
    """Turn query-string dimension values into the JSON values the cells hold."""
    known = dimension_values(state, kpi)
    result: dict[str, JsonScalar] = {}
    for name, text in wanted.items():
        candidates = known.get(name, [])
        match = [v for v in candidates if (v if isinstance(v, str) else json.dumps(v)) == text]
        result[name] = match[0] if match else text
    return result


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One (KPI, window, dimension values) value, as published on `ioc.kpi`."""

    kpi_id: str
    window: Window
    dims_key: str
    dims: Mapping[str, JsonScalar]
    value: float | None
    closed: bool

    @property
    def key(self) -> str:
        """Return the record key: KPI id, window start and dimension values."""
        return f"{self.kpi_id}|{self.window.key}|{self.dims_key}"


def snapshots(state: AggregationState, kpi: KpiDefinition) -> Iterator[Snapshot]:
    """Yield every cell of a KPI and each window's roll-up (dims key `*`)."""
    kpi_state = state.kpis.get(kpi.id)
    if kpi_state is None:
        return
    windows = [(k, w.cells, False) for k, w in kpi_state.open_windows.items()]
    windows += [(k, w.cells, True) for k, w in kpi_state.closed_windows.items()]
    for key, cells, closed in windows:
        window = window_from_key(key, kpi.window)
        total = cell_value(kpi, merged(list(cells.values())))
        yield Snapshot(kpi.id, window, TOTAL, {}, total, closed)
        if not kpi.dimensions:
            continue
        for cell_key, cell in cells.items():
            value = cell_value(kpi, cell)
            yield Snapshot(kpi.id, window, cell_key, dims_of(kpi, cell_key), value, closed)


def snapshot_body(snapshot: Snapshot, kpi: KpiDefinition) -> dict[str, Any]:
    """Return the JSON value of a snapshot record."""
    return {
        "kpi_id": kpi.id,
        "title_vi": kpi.title_vi,
        "title_en": kpi.title_en,
        "window": kpi.window,
        "window_start": snapshot.window.start.isoformat(),
        "window_end": snapshot.window.end.isoformat(),
        "dims": dict(snapshot.dims),
        "value": snapshot.value,
        "unit": kpi.unit,
        "closed": snapshot.closed,
        "target": kpi.target.model_dump() if kpi.target else None,
        "status": target_status(kpi, snapshot.value),
    }
