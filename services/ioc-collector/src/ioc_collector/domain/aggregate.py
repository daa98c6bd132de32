"""Applying events to the aggregation state: windows, dedup, lateness and the changes it makes.

`Aggregator.apply` is deterministic: the same events in the same order (with the same `now`
values) give byte-identical state. Its only inputs are the event, the state and, optionally,
the wall-clock time, which the caller passes in so the domain stays pure and replayable.

Why a redelivered event is never counted twice: while its window is open, the window keeps the
ids it has applied; once the window is closed (past its lateness), nothing more is applied to it
at all, so the ids can be evicted. Events of a declared import run are the one exception:
they may fill windows that were never live, deduplicated by their run (`domain/imports.py`).
`state.positions` holds the next offset per topic-partition, so the collector can store
offsets and aggregates in one atomic commit and resume from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from ioc_collector.domain.definitions import (
    AverageMeasure,
    CountMeasure,
    DistinctCountMeasure,
    JsonScalar,
    KpiDefinition,
    RatioMeasure,
    ReferenceTerm,
    SumMeasure,
)
from ioc_collector.domain.events import (
    LOCAL_TZ,
    MISSING,
    EventView,
    as_decimal,
    parse_time,
    resolve_field,
)
from ioc_collector.domain.filters import Predicate, compile_filter
from ioc_collector.domain.imports import (
    DEFAULT_SEAL_AFTER,
    placement,
    read_import,
    run_key,
    seal_runs,
)
from ioc_collector.domain.state import (
    AggregationState,
    Cell,
    ClosedWindow,
    KpiImport,
    KpiState,
    OpenWindow,
    Part,
    cell_value,
    merged,
)
from ioc_collector.domain.windows import (
    Window,
    advance_watermark,
    closable,
    is_closed,
    watermark_key,
    window_for,
)

__all__ = [
    "Aggregator", "Change", "EventSkipped", "EventView", "RunSealed", "ValueChanged",
    "WindowClosed",
]  # fmt: skip

SkipReason = Literal["late", "duplicate", "invalid_time", "future_time", "invalid_value"]
# An event time this far past the processing clock is a producer's clock or data error; letting
# it through would push the watermark ahead and turn every honest event late.
DEFAULT_MAX_FUTURE_SKEW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ValueChanged:
    """A (KPI, window, dimension values) cell moved; `value` is its new value."""

    kpi_id: str
    window: Window
    dims: Mapping[str, JsonScalar]
    value: float | None


@dataclass(frozen=True, slots=True)
class WindowClosed:
    """A window became final; `value` is its total over all dimension values."""

    kpi_id: str
    window: Window
    value: float | None


@dataclass(frozen=True, slots=True)
class EventSkipped:
    """An event matched a KPI but was not applied, and why (it is counted, never lost)."""

    kpi_id: str
    event_id: str
    reason: SkipReason
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class RunSealed:
    """The processing clock sealed import runs of a partition (their ids were dropped)."""


Change = ValueChanged | WindowClosed | EventSkipped | RunSealed


@dataclass(slots=True)
class _Contribution:
    """What one event adds to one part of a cell."""

    count: int = 0
    amount: Decimal | None = None
    distinct: str | None = None


def canonical_json(value: Any) -> str:
    """Return the one JSON text of a value (sorted keys, no spaces), used as a state key."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dims_key(values: Sequence[Any]) -> str:
    """Return the canonical state key of a tuple of dimension values."""
    return canonical_json(list(values))


def dims_of(kpi: KpiDefinition, key: str) -> dict[str, JsonScalar]:
    """Return the dimension name → value mapping that a cell key stands for."""
    return dict(zip(kpi.dimensions, json.loads(key), strict=True))


def _contribution(measure: object, event: EventView) -> _Contribution | None:
    """Return what the event adds under a simple measure, or None when its value is unusable."""
    if isinstance(measure, CountMeasure):
        return _Contribution(count=1)
    if isinstance(measure, SumMeasure | AverageMeasure):
        amount = as_decimal(resolve_field(event.payload, measure.field))
        return None if amount is None else _Contribution(count=1, amount=amount)
    if isinstance(measure, DistinctCountMeasure):
        value = resolve_field(event.payload, measure.field)
        if value is MISSING or value is None:
            return None
        return _Contribution(count=1, distinct=canonical_json(value))
    raise TypeError(f"not a simple measure: {measure!r}")


def _contributions(
    kpi: KpiDefinition, event: EventView, terms_match: Mapping[str, Predicate]
) -> dict[str, _Contribution] | None:
    """Return the event's additions per cell part, or None if any needed value is unusable."""
    measure = kpi.measure
    if not isinstance(measure, RatioMeasure):
        found = _contribution(measure, event)
        return None if found is None else {"main": found}
    result: dict[str, _Contribution] = {}
    terms = {"numerator": measure.numerator, "denominator": measure.denominator}
    for name, term in terms.items():
        if isinstance(term, ReferenceTerm) or not terms_match[name](event):
            continue
        found = _contribution(term, event)
        if found is None:
            return None
        result[name] = found
    return result


def _term_filters(kpi: KpiDefinition) -> dict[str, Predicate]:
    measure = kpi.measure
    if not isinstance(measure, RatioMeasure):
        return {}
    terms = {"numerator": measure.numerator, "denominator": measure.denominator}
    return {
        name: compile_filter(term.filter)
        for name, term in terms.items()
        if not isinstance(term, ReferenceTerm)
    }


def _add(cell: Cell, contributions: Mapping[str, _Contribution]) -> None:
    for name, contribution in contributions.items():
        part: Part | None = getattr(cell, name)
        if part is None:
            part = Part()
            setattr(cell, name, part)
        part.count += contribution.count
        if contribution.amount is not None:
            part.total += contribution.amount
        if contribution.distinct is not None:
            part.distinct.add(contribution.distinct)


class Aggregator:
    """Applies events to an AggregationState according to a KPI catalogue."""

    def __init__(
        self,
        catalogue: Iterable[KpiDefinition],
        max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
        seal_after: timedelta = DEFAULT_SEAL_AFTER,
    ) -> None:
        self.kpis: dict[str, KpiDefinition] = {kpi.id: kpi for kpi in catalogue}
        self._max_future_skew = max_future_skew
        self._seal_after = seal_after
        self._fingerprints = {kpi.id: kpi.state_fingerprint() for kpi in self.kpis.values()}
        # Filters are compiled once: evaluating them is most of the per-event work.
        self._filters = {kpi.id: compile_filter(kpi.filter) for kpi in self.kpis.values()}
        self._term_filters = {kpi.id: _term_filters(kpi) for kpi in self.kpis.values()}
        self._by_topic: dict[str, list[KpiDefinition]] = {}
        for kpi in self.kpis.values():
            self._by_topic.setdefault(kpi.topic, []).append(kpi)

    def fingerprints(self, topic: str) -> dict[str, str]:
        """Return the state fingerprint of each KPI over a topic."""
        return {kpi.id: self._fingerprints[kpi.id] for kpi in self._by_topic.get(topic, ())}

    def reset_stale(self, state: AggregationState) -> list[str]:
        """Drop the state of KPIs whose definition changed shape or left the catalogue."""
        stale = sorted(
            kpi_id
            for kpi_id, kpi_state in state.kpis.items()
            if self._fingerprints.get(kpi_id) != kpi_state.fingerprint
        )
        for kpi_id in stale:
            del state.kpis[kpi_id]
        return stale

    def apply(
        self, event: EventView, state: AggregationState, now: datetime | None = None
    ) -> list[Change]:
        """Apply one event to every KPI over its topic and return what changed."""
        position = f"{event.topic}/{event.partition}"
        state.positions[position] = max(state.positions.get(position, 0), event.offset + 1)
        changes = self.tick(state, now) if now is not None else []
        if event.import_run is not None and not read_import(state, event):
            return changes  # read before in its run (or after its seal): nothing to apply
        for kpi in self._by_topic.get(event.topic, ()):
            if kpi.id not in state.backfills:  # a KPI still backfilling takes over later
                changes.extend(self._apply_to_kpi(kpi, event, state))
        return changes

    def tick(self, state: AggregationState, now: datetime) -> list[Change]:
        """Advance the processing clock and close the windows it makes final."""
        now = now.astimezone(LOCAL_TZ)
        if state.clock is None or now > state.clock:
            state.clock = now
        changes: list[Change] = []
        for kpi in self.kpis.values():
            if kpi.id in state.kpis:
                changes.extend(self._close_windows(kpi, state.kpis[kpi.id], state.clock))
        if state.imports and seal_runs(state.imports, state.clock, self._seal_after):
            changes.append(RunSealed())
        return changes

    def _apply_to_kpi(
        self, kpi: KpiDefinition, event: EventView, state: AggregationState
    ) -> list[Change]:
        if not self._filters[kpi.id](event):
            return []
        kpi_state = state.kpis.get(kpi.id)
        if kpi_state is None:
            kpi_state = state.kpis[kpi.id] = KpiState(fingerprint=self._fingerprints[kpi.id])
        raw_time = (
            event.time if kpi.time_field is None else resolve_field(event.payload, kpi.time_field)
        )
        event_time = parse_time(raw_time)
        if event_time is None:
            kpi_state.invalid_events += 1
            return [EventSkipped(kpi.id, event.event_id, "invalid_time")]
        if state.clock is not None and event_time > state.clock + self._max_future_skew:
            kpi_state.invalid_events += 1
            return [EventSkipped(kpi.id, event.event_id, "future_time")]
        if event.import_run is not None:  # history never moves the watermark
            placed = self._import(kpi, kpi_state, event, event_time, state.clock)
            return [] if placed is None else [placed]
        key = watermark_key(event, state.watermark_scope)
        kpi_state.watermark = advance_watermark(
            kpi_state.watermarks, kpi_state.watermark, key, event_time
        )
        changes = self._close_windows(kpi, kpi_state, state.clock)
        placed = self._place(kpi, kpi_state, event, event_time, state.clock)
        return changes if placed is None else [*changes, placed]

    def _place(
        self,
        kpi: KpiDefinition,
        kpi_state: KpiState,
        event: EventView,
        event_time: datetime,
        clock: datetime | None,
    ) -> Change | None:
        window = window_for(event_time, kpi.window)
        open_window = kpi_state.open_windows.get(window.key)
        if open_window is None and (
            window.key in kpi_state.closed_windows
            or is_closed(window, kpi, kpi_state.watermark, clock)
        ):
            kpi_state.late_events += 1
            return EventSkipped(kpi.id, event.event_id, "late", window)
        if open_window is not None and event.event_id in open_window.seen_ids:
            kpi_state.duplicate_events += 1
            return EventSkipped(kpi.id, event.event_id, "duplicate", window)
        contributions = _contributions(kpi, event, self._term_filters[kpi.id])
        if contributions is None:
            kpi_state.invalid_events += 1
            return EventSkipped(kpi.id, event.event_id, "invalid_value", window)
        if open_window is None:
            open_window = kpi_state.open_windows.setdefault(window.key, OpenWindow())
        open_window.seen_ids.add(event.event_id)
        return self._add_event(kpi, open_window.cells, window, event, contributions)

    def _import(
        self,
        kpi: KpiDefinition,
        kpi_state: KpiState,
        event: EventView,
        event_time: datetime,
        clock: datetime | None,
    ) -> Change | None:
        """Place an import run's event: live while its window can be, else into history."""
        assert event.import_run is not None
        run = run_key(event.source, event.import_run)
        window = window_for(event_time, kpi.window)
        record = kpi_state.imports.get(run)
        if record is None:
            record = kpi_state.imports[run] = KpiImport()
        where = placement(kpi, kpi_state, window, run, clock)
        if where == "refused":
            record.refused += 1
            return EventSkipped(kpi.id, event.event_id, "late", window)
        if where == "live":
            placed = self._place(kpi, kpi_state, event, event_time, clock)
            if not isinstance(placed, EventSkipped):
                record.applied += 1
                record.windows.add(window.key)
            return placed
        contributions = _contributions(kpi, event, self._term_filters[kpi.id])
        if contributions is None:
            kpi_state.invalid_events += 1
            return EventSkipped(kpi.id, event.event_id, "invalid_value", window)
        closed = kpi_state.closed_windows.get(window.key)
        if closed is None:
            closed = kpi_state.closed_windows[window.key] = ClosedWindow()
            kpi_state.history[window.key] = run
        record.applied += 1
        record.windows.add(window.key)
        return self._add_event(kpi, closed.cells, window, event, contributions)

    def _add_event(
        self,
        kpi: KpiDefinition,
        cells: dict[str, Cell],
        window: Window,
        event: EventView,
        contributions: Mapping[str, _Contribution],
    ) -> Change | None:
        if not contributions:
            return None  # matched the KPI but neither ratio term: nothing moves
        dims = [resolve_field(event.payload, d) for d in kpi.dimensions]
        dims = [None if value is MISSING else value for value in dims]
        cell_key = dims_key(dims)
        cell = cells.get(cell_key)
        if cell is None:  # built only when missing: a model costs a validation
            cell = cells[cell_key] = Cell()
        _add(cell, contributions)
        # The values as JSON gives them, so the same as dims_of(kpi, cell_key) without parsing.
        values = dict(zip(kpi.dimensions, dims, strict=True))
        return ValueChanged(kpi.id, window, values, cell_value(kpi, cell))

    def _close_windows(
        self, kpi: KpiDefinition, kpi_state: KpiState, clock: datetime | None
    ) -> list[Change]:
        changes: list[Change] = []
        for window in closable(kpi_state.open_windows, kpi, kpi_state.watermark, clock):
            open_window = kpi_state.open_windows.pop(window.key)
            kpi_state.closed_windows[window.key] = ClosedWindow(cells=open_window.cells)
            total = cell_value(kpi, merged(list(open_window.cells.values())))
            changes.append(WindowClosed(kpi.id, window, total))
        return changes
