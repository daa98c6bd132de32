"""Which KPIs a partition's state covers, and which are still being built from the start (pure).

A partition's state covers a KPI from the partition's beginning (`state.applied`), or is
building it (`state.backfills`): a KPI that appears while the partition already has a position
(pushed at runtime, or its definition changed shape) is computed by a backfill over the
partition's records from its beginning up to the live position, then handed over, so its
values are the ones it would have had from the start. A partition that has not consumed
anything yet covers every KPI of its topic at once (the live loop starts at the beginning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ioc_collector.domain.state import AggregationState, Backfill


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What `reconcile` changed: KPI states dropped, backfills started."""

    dropped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    marked: bool = False  # the state says what it covers for the first time

    def __bool__(self) -> bool:
        return bool(self.dropped or self.started or self.marked)


def reconcile(state: AggregationState, wanted: Mapping[str, str], *, fresh: bool) -> Reconciled:
    """Fit a partition's state to the KPIs of its topic (`wanted`: id → state fingerprint).

    The state of a KPI removed or changed in shape is dropped (and its backfill with it); a
    KPI the state does not cover starts a backfill, unless the partition is `fresh` (nothing
    consumed yet), where the live loop covers it from the beginning.
    """
    dropped = sorted(k for k, s in state.kpis.items() if wanted.get(k) != s.fingerprint)
    for kpi_id in dropped:
        del state.kpis[kpi_id]
    for kpi_id in [k for k, b in state.backfills.items() if wanted.get(k) != b.fingerprint]:
        del state.backfills[kpi_id]
        dropped.append(kpi_id)
    marked = state.applied is None
    if state.applied is None:  # a row from before runtime KPIs: what it holds, it covers
        state.applied = {} if fresh else {k: s.fingerprint for k, s in state.kpis.items()}
    for kpi_id in [k for k, fp in state.applied.items() if wanted.get(k) != fp]:
        del state.applied[kpi_id]
    started = []
    for kpi_id, fingerprint in sorted(wanted.items()):
        if kpi_id in state.applied or kpi_id in state.backfills:
            continue
        if fresh:
            state.applied[kpi_id] = fingerprint
        else:
            state.backfills[kpi_id] = Backfill(fingerprint=fingerprint)
            started.append(kpi_id)
    return Reconciled(sorted(set(dropped)), started, marked)


def hand_over(state: AggregationState, kpi_id: str) -> None:
    """Make a finished backfill the partition's live state of its KPI."""
    backfill = state.backfills.pop(kpi_id)
    if backfill.kpi is not None:
        state.kpis[kpi_id] = backfill.kpi
    if state.applied is None:
        state.applied = {}
    state.applied[kpi_id] = backfill.fingerprint


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one partition's backfill of a KPI is, in records."""

    done: int
    total: int


def progress(backfill: Backfill, live_position: int) -> Progress:
    """Return a backfill's records read and records to read (up to the live position)."""
    start = backfill.start or 0
    at = backfill.position if backfill.position is not None else start
    total = max(live_position - start, 0)
    return Progress(min(max(at - start, 0), total), total)
