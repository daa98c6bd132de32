"""A KPI's pass over its events of a batch: at once when no window can close, else in order.

Both passes leave the state that `Aggregator.apply` leaves event by event. Within a batch the
clock stands still (the batch begins with `tick`, which closed what the clock closes), so a
window closes only when the watermark passes its `closes_at`, and the watermark only grows.

`AtOnce` first works out the watermark the batch ends with (with the partition as watermark
key, it is exactly the one the events would leave one by one). If no open window, and no window
the batch would open, closes at or before it, then nothing closes during the batch and whether
an event is late does not depend on its place: its window is final already (closed, idle past
its timeout, or past the watermark the batch starts with) or it is not. The order then matters
only for dedup (the first usable occurrence of an id counts), which one loop over the ids
settles; the cells take each (window, cell, contribution)'s count at once. Otherwise `AtOnce`
declines, having changed nothing, and `InOrder` goes event by event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.events import EventBatch
from ioc_collector.domain.pending import Contribution, PendingCells
from ioc_collector.domain.state import KpiState, OpenWindow
from ioc_collector.domain.windows import (
    WatermarkScope,
    Window,
    advance_watermark,
    closes_at,
    idle_closes_at,
    is_closed,
    window_from_key,
)

T = TypeVar("T")
WindowOf = tuple[str, Window, datetime]  # key, window, the watermark that closes it
CloseWindows = Callable[[KpiDefinition, KpiState, datetime | None], object]


@dataclass(frozen=True, slots=True)
class KpiBatch:
    """A KPI's events of a batch (those with a usable time), column by column."""

    kpi: KpiDefinition
    kpi_state: KpiState
    clock: datetime | None
    scope: WatermarkScope
    batch: EventBatch
    indices: list[int]  # in the batch
    times: list[datetime]  # local event times
    windows: list[WindowOf]
    parts: list[Contribution | None]  # what each event adds; None: a value is unusable
    cell_keys: Callable[[Sequence[Mapping[str, Any]]], list[str]]
    counts_only: bool  # every term counts: contributions carry no amounts or values

    def column(self, values: list[T]) -> list[T]:
        """Return a batch column's values for these events (the column itself if all)."""
        # The indices rise within the batch: as many as the batch has means all of them.
        if len(self.indices) == len(values):
            return values
        return [values[index] for index in self.indices]

    def earliest_close(self) -> datetime | None:
        """Return the earliest watermark that closes one of the open windows."""
        kpi = self.kpi
        keys = self.kpi_state.open_windows
        return min((closes_at(window_from_key(k, kpi.window), kpi) for k in keys), default=None)

    def count(self, late: int, duplicates: int, invalid: int) -> None:
        """Add the skipped events to the KPI's counters."""
        kpi_state = self.kpi_state
        if late:
            kpi_state.late_events += late
        if duplicates:
            kpi_state.duplicate_events += duplicates
        if invalid:
            kpi_state.invalid_events += invalid


class AtOnce:
    """Applies a KPI's events together, when no window can close within the batch."""

    def __init__(self, work: KpiBatch) -> None:
        self.work = work

    def apply(self) -> bool:
        """Apply the events and return True; or return False, having changed nothing."""
        work = self.work
        if work.scope != "partition":
            return False
        kpi_state = work.kpi_state
        key = f"partition:{work.batch.partition}"
        known, top = kpi_state.watermarks.get(key), max(work.times)
        mark = top if known is None or top > known else known
        others = [v for k, v in kpi_state.watermarks.items() if k != key]
        lowest = min([mark, *others])
        previous = kpi_state.watermark
        final = lowest if previous is None or lowest > previous else previous
        seen = self._dedup_sets(final)
        if seen is None:
            return False
        kpi_state.watermarks[key] = mark
        kpi_state.watermark = final
        self._apply(seen)
        return True

    def _dedup_sets(self, final: datetime) -> dict[str, set[str] | None] | None:
        """Return per window key the ids it has applied (None: late), or None if a window
        could close within the batch."""
        work = self.work
        kpi, kpi_state, clock = work.kpi, work.kpi_state, work.clock
        start = kpi_state.watermark
        closing = work.earliest_close()
        if closing is not None and closing <= final:
            return None
        seen: dict[str, set[str] | None] = {}
        for key, window, closes in {entry[0]: entry for entry in work.windows}.values():
            open_window = kpi_state.open_windows.get(key)
            if open_window is not None:
                seen[key] = open_window.seen_ids
            elif (
                key in kpi_state.closed_windows
                or (clock is not None and clock >= idle_closes_at(window, kpi))
                or (start is not None and start >= closes)
            ):
                seen[key] = None  # final before the batch: late wherever it stands
            elif closes <= final:
                return None  # would be opened, then closed within the batch
            else:
                seen[key] = set()  # opened by its first usable event
        return seen

    def _apply(self, seen: dict[str, set[str] | None]) -> None:
        work = self.work
        keys = [entry[0] for entry in work.windows]
        opened = work.kpi_state.open_windows
        fresh = [k for k, applied in seen.items() if applied is not None and k not in opened]
        kept = self._all_new(seen)
        if kept is None:
            kept = self._one_by_one(seen, keys)
        for key in fresh:
            applied = seen[key]
            if applied:  # a window opens with its first usable event
                window = opened[key] = OpenWindow()
                window.seen_ids = applied
        self._add(kept, keys)

    def _all_new(self, seen: dict[str, set[str] | None]) -> list[int] | None:
        """Settle dedup with set operations when every event is applied (the usual batch: one
        window, no repeated id, nothing late or unusable); else return None, unchanged."""
        work = self.work
        (applied,) = seen.values() if len(seen) == 1 else (None,)
        if applied is None or None in work.parts:
            return None
        ids = work.column(work.batch.event_ids)
        if not applied.isdisjoint(ids) or len(set(ids)) < len(ids):
            return None
        applied.update(ids)
        return [position for position, found in enumerate(work.parts) if found]

    def _one_by_one(self, seen: dict[str, set[str] | None], keys: list[str]) -> list[int]:
        """Settle dedup event by event: the first usable occurrence of an id counts."""
        work = self.work
        ids = work.batch.event_ids
        late = duplicates = invalid = 0
        kept: list[int] = []
        for position, (key, index, found) in enumerate(
            zip(keys, work.indices, work.parts, strict=True)
        ):
            applied = seen[key]
            if applied is None:
                late += 1
            elif ids[index] in applied:
                duplicates += 1
            elif found is None:
                invalid += 1
            else:
                applied.add(ids[index])
                if found:
                    kept.append(position)
        work.count(late, duplicates, invalid)
        return kept

    def _add(self, kept: list[int], keys: list[str]) -> None:
        if not kept:
            return
        work = self.work
        # The events kept have a contribution: none is None.
        if len(kept) == len(keys):  # every event adds to a cell: the columns as they are
            window_keys, parts = keys, cast(list[Contribution], work.parts)
            cells = work.cell_keys(work.column(work.batch.payloads))
        else:
            window_keys = [keys[p] for p in kept]
            parts = [cast(Contribution, work.parts[p]) for p in kept]
            payloads = work.batch.payloads
            cells = work.cell_keys([payloads[work.indices[p]] for p in kept])
        pending = PendingCells()
        opened = work.kpi_state.open_windows
        if work.counts_only:
            grouped = Counter(zip(window_keys, cells, parts, strict=True))
            for (key, cell, part), repeat in grouped.items():
                pending.add(key, cell, opened[key], part, repeat)
        else:  # sums are added in event order: the same Decimal operations as one by one
            for key, cell, part in zip(window_keys, cells, parts, strict=True):
                pending.add(key, cell, opened[key], part)
        pending.flush()


class InOrder:
    """Applies a KPI's events one after the other (windows may close within the batch)."""

    def __init__(self, work: KpiBatch, close_windows: CloseWindows) -> None:
        self.work = work
        self._close_windows = close_windows
        self.pending = PendingCells()
        self.closing = work.earliest_close()

    def apply(self) -> None:
        """Apply the events in order."""
        work = self.work
        kpi_state, batch = work.kpi_state, work.batch
        marks, opened, ids = kpi_state.watermarks, kpi_state.open_windows, batch.event_ids
        cells = work.cell_keys([batch.payloads[i] for i in work.indices])
        key = f"partition:{batch.partition}"
        watermark = kpi_state.watermark
        late = duplicates = invalid = 0
        for index, when, (window_key, window, closes), found, cell in zip(
            work.indices, work.times, work.windows, work.parts, cells, strict=True
        ):
            if work.scope == "source":
                key = f"source:{batch.sources[index]}"
            known = marks.get(key)
            if known is None or when > known or watermark is None:
                watermark = advance_watermark(marks, watermark, key, when)
                if self.closing is not None and watermark >= self.closing:
                    self._close(watermark)
            open_window = opened.get(window_key)
            if open_window is None and self._is_late(window_key, window, watermark):
                late += 1
            elif open_window is not None and ids[index] in open_window.seen_ids:
                duplicates += 1
            elif found is None:
                invalid += 1
            else:
                if open_window is None:
                    open_window = opened[window_key] = OpenWindow()
                    self.closing = closes if self.closing is None else min(self.closing, closes)
                open_window.seen_ids.add(ids[index])
                if found:
                    self.pending.add(window_key, cell, open_window, found)
        kpi_state.watermark = watermark
        self.pending.flush()
        work.count(late, duplicates, invalid)

    def _is_late(self, key: str, window: Window, watermark: datetime | None) -> bool:
        closed = self.work.kpi_state.closed_windows
        return key in closed or is_closed(window, self.work.kpi, watermark, self.work.clock)

    def _close(self, watermark: datetime) -> None:
        """Close the windows the watermark passed (the cells are written first)."""
        self.pending.flush()
        self.work.kpi_state.watermark = watermark
        self._close_windows(self.work.kpi, self.work.kpi_state, self.work.clock)
        self.closing = self.work.earliest_close()
