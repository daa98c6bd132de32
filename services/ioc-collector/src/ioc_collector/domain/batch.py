"""Applying a batch of events at once: the state of applying them one by one, in less time.

The collector's hot path. `BatchAggregator.apply_batch(batch, state, now)` leaves exactly the
state that `tick(state, now)` followed by `apply(event, state)` for each event in order leaves
(a property test compares the two byte for byte); it only does less work per event:
- a filter condition is evaluated once per batch over the payloads (KPIs share conditions);
- KPIs never read each other's state, so each KPI takes all its events in turn;
- a KPI's event times, windows, contributions and cell keys are computed column by column,
  with the windows and cell keys of recurring values cached;
- when no window can close within the batch (see `passes.AtOnce`), the order of the events
  matters only for dedup, and the cells take the counts of the batch at once; otherwise the
  events go one by one (`passes.InOrder`), still with plain counters per cell;
- the events of an import run (`domain/imports.py`) are applied one by one, in their place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from ioc_collector.domain.aggregate import Aggregator, canonical_json
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.events import (
    MISSING,
    EventBatch,
    parse_text_time,
    parse_time,
    resolve_field,
)
from ioc_collector.domain.passes import AtOnce, InOrder, KpiBatch, WindowOf
from ioc_collector.domain.pending import Contributions, counts_only, term_plan
from ioc_collector.domain.selection import Selector
from ioc_collector.domain.state import AggregationState, KpiState
from ioc_collector.domain.windows import closes_at, window_for

_FIELDS = {
    "month": attrgetter("year", "month"),
    "day": attrgetter("year", "month", "day"),
    "hour": attrgetter("year", "month", "day", "hour"),
}
_CACHE_LIMIT = 50_000  # entries per KPI before a cache starts afresh
Payload = Mapping[str, Any]


class _Plan:
    """What one KPI needs at hand to apply a batch: fields, terms and caches."""

    def __init__(self, kpi: KpiDefinition) -> None:
        self.kpi = kpi
        self.terms = term_plan(kpi)
        self._time_name = _top_level(kpi.time_field)
        # Top-level names are read with a plain `get`; JSON Pointers need resolving.
        pointers = any(ref.startswith("/") for ref in kpi.dimensions)
        self._dim_names = None if pointers else list(kpi.dimensions)
        self._fields = _FIELDS[kpi.window]
        self._windows: dict[tuple[int, ...], WindowOf] = {}
        self._cells: dict[tuple[Any, ...], str] = {}

    def times(
        self, batch: EventBatch, indices: Sequence[int], columns: dict[str, list[Any]]
    ) -> list[datetime | None]:
        """Return the local event time this KPI reads of each event, or None if unusable.

        The times of a whole batch are kept in `columns` for the KPIs reading the same field.
        """
        field = self.kpi.time_field
        if field is None:
            return [parse_time(batch.time(i)) for i in indices]
        payloads = batch.payloads
        if self._time_name is None:
            return [parse_time(resolve_field(payloads[i], field)) for i in indices]
        if len(indices) < len(payloads):
            return [parse_time(payloads[i].get(self._time_name)) for i in indices]
        column = columns.get(field)
        if column is None:
            raw = [p.get(self._time_name) for p in payloads]
            column = [parse_text_time(v) if type(v) is str else parse_time(v) for v in raw]
            columns[field] = column
        return column

    def windows(self, times: Sequence[datetime]) -> list[WindowOf]:
        """Return each time's window (key, window, the watermark that closes it)."""
        found = self._windows
        fields = self._fields
        result = [found.get(fields(when)) for when in times]
        if None in result:
            pairs = zip(result, times, strict=True)
            return [known or self._window(when) for known, when in pairs]
        return cast(list[WindowOf], result)

    def _window(self, when: datetime) -> WindowOf:
        if len(self._windows) > _CACHE_LIMIT:
            self._windows.clear()
        window = window_for(when, self.kpi.window)
        found = (window.key, window, closes_at(window, self.kpi))
        self._windows[self._fields(when)] = found
        return found

    def cell_keys(self, payloads: Sequence[Payload]) -> list[str]:
        """Return the cell key of each payload's dimension values (as `dims_key` writes it)."""
        names = self._dim_names
        values: list[tuple[Any, ...]]
        if names is None:
            refs = self.kpi.dimensions
            values = [tuple(_dimension(p, r) for r in refs) for p in payloads]
        elif len(names) == 1:
            (first,) = names
            values = [(p.get(first),) for p in payloads]
        elif len(names) == 2:  # the common case, spelled out for speed
            first, second = names
            values = [(p.get(first), p.get(second)) for p in payloads]
        else:
            values = [tuple([p.get(n) for n in names]) for p in payloads]
        cells = self._cells
        try:
            keys = [cells.get(v) for v in values]
        except TypeError:  # an object or array as a dimension value: not hashable
            keys = [None] * len(values)
        if None in keys:
            return [key or self._cell_key(v) for key, v in zip(keys, values, strict=True)]
        return cast(list[str], keys)

    def _cell_key(self, values: tuple[Any, ...]) -> str:
        key = canonical_json(list(values))
        # Only strings and nulls are cached: 1, 1.0 and true are equal keys in Python, while a
        # string or null never equals anything else, so a hit has the very same values.
        if all(v is None or type(v) is str for v in values):
            if len(self._cells) > _CACHE_LIMIT:
                self._cells.clear()
            self._cells[values] = key
        return key


def _top_level(ref: str | None) -> str | None:
    return ref if ref is not None and not ref.startswith("/") else None


def _dimension(payload: Payload, ref: str) -> Any:
    value = resolve_field(payload, ref)
    return None if value is MISSING else value


class BatchAggregator(Aggregator):
    """An Aggregator that also applies a topic-partition's batch of events in one call."""

    def __init__(self, catalogue: Sequence[KpiDefinition], **options: Any) -> None:
        super().__init__(catalogue, **options)
        self._plans = {kpi.id: _Plan(kpi) for kpi in self.kpis.values()}

    def apply_batch(self, batch: EventBatch, state: AggregationState, now: datetime) -> None:
        """Advance the clock to `now`, then apply the events in order (see the module doc)."""
        self.tick(state, now)
        if not len(batch):
            return
        if batch.imports:  # import runs go one by one, in their place among the live events
            for start, end, imported in batch.segments():
                if imported:
                    for index in range(start, end):
                        self.apply(batch.event(index), state)
                else:
                    self._apply_live(batch.slice(start, end), state)
            return
        self._apply_live(batch, state)

    def _apply_live(self, batch: EventBatch, state: AggregationState) -> None:
        position = f"{batch.topic}/{batch.partition}"
        state.positions[position] = max(state.positions.get(position, 0), max(batch.offsets) + 1)
        selector = Selector(batch.payloads, batch.ce_types)
        columns: dict[str, list[Any]] = {}
        for kpi in self._by_topic.get(batch.topic, ()):
            if kpi.id in state.backfills:  # a KPI still backfilling takes over later
                continue
            chosen = selector.select(kpi.filter)
            if chosen:
                self._apply_kpi(self._plans[kpi.id], batch, selector, chosen, state, columns)

    def _usable(
        self, chosen: Sequence[int], times: list[datetime | None], clock: datetime | None
    ) -> tuple[list[int], list[datetime]]:
        """Return the events (indices and times) whose time is usable and not too far ahead."""
        limit = None if clock is None else clock + self._max_future_skew
        if None not in times:  # the usual batch: take it whole
            known = cast(list[datetime], times)
            if limit is None or max(known) <= limit:
                return list(chosen), known
        usable = [
            (index, when)
            for index, when in zip(chosen, times, strict=True)
            if when is not None and (limit is None or when <= limit)
        ]
        return [index for index, _ in usable], [when for _, when in usable]

    def _apply_kpi(
        self,
        plan: _Plan,
        batch: EventBatch,
        selector: Selector,
        chosen: Sequence[int],
        state: AggregationState,
        columns: dict[str, list[Any]],
    ) -> None:
        kpi = plan.kpi
        kpi_state = state.kpis.get(kpi.id)
        if kpi_state is None:
            kpi_state = state.kpis[kpi.id] = KpiState(fingerprint=self._fingerprints[kpi.id])
        indices, times = self._usable(chosen, plan.times(batch, chosen, columns), state.clock)
        if len(indices) < len(chosen):  # no usable time, or too far ahead of the clock
            kpi_state.invalid_events += len(chosen) - len(indices)
        if not indices:
            return
        work = KpiBatch(
            kpi, kpi_state, state.clock, state.watermark_scope, batch, indices, times,
            plan.windows(times), Contributions(plan.terms, batch.payloads, selector).of(indices),
            plan.cell_keys, counts_only(plan.terms),
        )  # fmt: skip
        if not AtOnce(work).apply():
            InOrder(work, self._close_windows).apply()
