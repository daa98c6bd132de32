"""Historical import runs: events that fill windows that were never live, exactly once.

A source declares an import by the CloudEvents extension `lgspimport` (the run id). Such an
event goes where a live event would while its window can still be live (open, or not closed
yet), without moving the watermark: history must not make today's events late. When its
window is already final by the watermark or the clock, it fills that window as *history*,
provided the window was never live: a window that closed live refuses it (counted as refused
in the run, never applied), and so does a history window another run fills (one run owns a
history window, so importing the same history twice under two run ids cannot count it twice).
Live events into a history window are late, as into any closed window.

Exactly once within a run: each partition keeps the run's (source, id) pairs until the run is
sealed, i.e. until no record of it came for `seal_after` by the processing clock; then the ids
are dropped and any later record of the run is a duplicate. The state therefore holds ids only
for the runs in progress, plus a few counters per run, and not an id per imported event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.events import LOCAL_TZ, EventView
from ioc_collector.domain.state import AggregationState, ImportRun, KpiState
from ioc_collector.domain.windows import Window, is_closed

DEFAULT_SEAL_AFTER = timedelta(minutes=10)
Placement = Literal["live", "history", "refused"]


def run_key(source: str, run_id: str) -> str:
    """Return the key of a run: run ids are the source's own, so the source is part of it."""
    return f"{source} {run_id}"


def read_import(state: AggregationState, event: EventView) -> bool:
    """Count an import event in its run; return True if it is the run's first occurrence."""
    assert event.import_run is not None
    key = run_key(event.source, event.import_run)
    run = state.imports.get(key)
    if run is None:
        run = state.imports[key] = ImportRun(run_id=event.import_run, source=event.source)
    run.events += 1
    run.last_read = state.clock
    when = event.time.astimezone(LOCAL_TZ)
    if run.first_time is None or when < run.first_time:
        run.first_time = when
    if run.last_time is None or when > run.last_time:
        run.last_time = when
    if run.sealed or event.event_id in run.seen_ids:
        run.duplicates += 1
        return False
    run.seen_ids.add(event.event_id)
    run.applied += 1
    return True


def seal_runs(runs: dict[str, ImportRun], now: datetime, seal_after: timedelta) -> bool:
    """Seal the runs quiet for `seal_after` (their ids are dropped); return True if any was."""
    sealed = False
    for run in runs.values():
        if run.sealed:
            continue
        if run.last_read is None:
            run.last_read = now  # read before the clock ever ticked: the seal counts from now
        elif now >= run.last_read + seal_after:
            run.sealed, run.seen_ids, sealed = True, set(), True
    return sealed


def placement(
    kpi: KpiDefinition, kpi_state: KpiState, window: Window, run: str, clock: datetime | None
) -> Placement:
    """Say where an import event of `run` goes in this window: live, history, or nowhere."""
    if window.key in kpi_state.open_windows:
        return "live"
    owner = kpi_state.history.get(window.key)
    if owner is not None:
        return "history" if owner == run else "refused"
    if window.key in kpi_state.closed_windows:
        return "refused"  # it was live, and is final
    if is_closed(window, kpi, kpi_state.watermark, clock):
        return "history"
    return "live"


@dataclass
class KpiRunSummary:
    """What one run did to one KPI, over every partition."""

    applied: int = 0
    refused: int = 0
    windows: set[str] = field(default_factory=set)


@dataclass
class RunSummary:
    """One import run over every partition: its progress and what it filled."""

    run_id: str
    source: str
    topics: set[str] = field(default_factory=set)
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    last_read: datetime | None = None
    sealed: bool = True  # every partition sealed it
    kpis: dict[str, KpiRunSummary] = field(default_factory=dict)

    def add(self, topic: str, run: ImportRun) -> None:
        """Add one partition's view of the run."""
        self.topics.add(topic)
        self.events += run.events
        self.applied += run.applied
        self.duplicates += run.duplicates
        self.sealed = self.sealed and run.sealed
        self.first_time = _earliest(self.first_time, run.first_time)
        self.last_time = _latest(self.last_time, run.last_time)
        self.last_read = _latest(self.last_read, run.last_read)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def summarise_runs(partitions: Iterable[tuple[str, AggregationState]]) -> list[RunSummary]:
    """Return every import run seen on the partitions (topic, state), newest first."""
    runs: dict[str, RunSummary] = {}
    for topic, state in partitions:
        for key, run in state.imports.items():
            summary = runs.get(key)
            if summary is None:
                summary = runs[key] = RunSummary(run.run_id, run.source)
            summary.add(topic, run)
        for kpi_id, kpi_state in state.kpis.items():
            for key, record in kpi_state.imports.items():
                if key not in runs:
                    continue
                found = runs[key].kpis.setdefault(kpi_id, KpiRunSummary())
                found.applied += record.applied
                found.refused += record.refused
                found.windows |= record.windows
    never = datetime.min.replace(tzinfo=LOCAL_TZ)
    return sorted(runs.values(), key=lambda r: (r.last_read or never, r.run_id), reverse=True)
