"""Merging partition-scoped aggregation states into one view for queries (pure).

The collector keeps one AggregationState per topic-partition, so a partition's state can move
between collector instances with the partition. Queries read the merge: cells of the same
(KPI, window, dimension values) add up exactly (counts, sums, distinct sets), a window is open
while any partition still holds it open, counters add up, the watermark is the lowest one and
the clock the latest. The dedup ids are left out: the view is only read.
"""

from __future__ import annotations

from collections.abc import Iterable

from ioc_collector.domain.state import (
    AggregationState,
    Cell,
    ClosedWindow,
    KpiState,
    OpenWindow,
    merged,
)


class _Collected:
    """Windows of one KPI gathered from several partitions."""

    def __init__(self, fingerprint: str) -> None:
        self.state = KpiState(fingerprint=fingerprint)
        self.cells: dict[str, dict[str, list[Cell]]] = {}
        self.open: set[str] = set()

    def add(self, kpi: KpiState) -> None:
        target = self.state
        target.late_events += kpi.late_events
        target.duplicate_events += kpi.duplicate_events
        target.invalid_events += kpi.invalid_events
        if kpi.watermark is not None and (
            target.watermark is None or kpi.watermark < target.watermark
        ):
            target.watermark = kpi.watermark
        for key, window in kpi.open_windows.items():
            self.open.add(key)
            self._gather(key, window.cells)
        for key, closed in kpi.closed_windows.items():
            self._gather(key, closed.cells)

    def _gather(self, key: str, cells: dict[str, Cell]) -> None:
        into = self.cells.setdefault(key, {})
        for cell_key, cell in cells.items():
            into.setdefault(cell_key, []).append(cell)

    def result(self) -> KpiState:
        for key, by_cell in self.cells.items():
            cells = {cell_key: merged(parts) for cell_key, parts in by_cell.items()}
            if key in self.open:
                self.state.open_windows[key] = OpenWindow(cells=cells)
            else:
                self.state.closed_windows[key] = ClosedWindow(cells=cells)
        return self.state


def merge_states(states: Iterable[AggregationState]) -> AggregationState:
    """Return one read-only state adding up partition-scoped states (inputs are not changed)."""
    result = AggregationState()
    collected: dict[str, _Collected] = {}
    for state in states:
        if state.clock is not None and (result.clock is None or state.clock > result.clock):
            result.clock = state.clock
        result.positions.update(state.positions)
        for kpi_id, kpi in state.kpis.items():
            collected.setdefault(kpi_id, _Collected(kpi.fingerprint)).add(kpi)
    result.kpis = {kpi_id: found.result() for kpi_id, found in sorted(collected.items())}
    return result
