"""What events add to cells, worked out per batch, and the cells' pending additions (pure).

A contribution is what one event adds under a KPI's measure: a tuple of (part slot, amount,
distinct value) per measure or ratio term it counts for (the same as `aggregate._contributions`;
an empty tuple when it matched no ratio term, None when a value it needs is unusable). The
pending additions of a cell are plain counters written to the cell's parts once per batch; sums
are added in event order from the part's total, so every Decimal operation is the one that
applying the events one by one would do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ioc_collector.domain.aggregate import canonical_json
from ioc_collector.domain.definitions import (
    AverageMeasure,
    CountMeasure,
    DistinctCountMeasure,
    Filter,
    KpiDefinition,
    RatioMeasure,
    ReferenceTerm,
    SumMeasure,
)
from ioc_collector.domain.events import MISSING, as_decimal, resolve_field
from ioc_collector.domain.selection import Selector
from ioc_collector.domain.state import Cell, OpenWindow, Part

PARTS = ("main", "numerator", "denominator")
Addition = tuple[int, Decimal | None, str | None]
Contribution = tuple[Addition, ...]


@dataclass(frozen=True, slots=True)
class Term:
    """A measure, or one ratio term, and the cell part (slot in PARTS) it adds to."""

    slot: int
    measure: CountMeasure | SumMeasure | AverageMeasure | DistinctCountMeasure
    filter: Filter | None

    def addition(self, payload: Mapping[str, Any]) -> Addition | None:
        """Return what an event adds under this term, or None when its value is unusable."""
        measure = self.measure
        if isinstance(measure, CountMeasure):
            return (self.slot, None, None)
        value = resolve_field(payload, measure.field)
        if isinstance(measure, SumMeasure | AverageMeasure):
            amount = as_decimal(value)
            return None if amount is None else (self.slot, amount, None)
        if value is MISSING or value is None:
            return None
        return (self.slot, None, canonical_json(value))


def term_plan(kpi: KpiDefinition) -> tuple[Term, ...]:
    """Return the terms of a KPI's measure (a ratio's fixed reference adds nothing)."""
    measure = kpi.measure
    if not isinstance(measure, RatioMeasure):
        return (Term(0, measure, None),)
    terms = []
    for slot, term in ((1, measure.numerator), (2, measure.denominator)):
        if isinstance(term, ReferenceTerm):
            continue
        flt = term.filter
        terms.append(Term(slot, term, flt if flt.where or flt.ce_type is not None else None))
    return tuple(terms)


def counts_only(terms: Sequence[Term]) -> bool:
    """Tell whether every term counts (its contributions carry no amount or value)."""
    return all(isinstance(term.measure, CountMeasure) for term in terms)


class Contributions:
    """Works out the contributions of a batch's events under one KPI's terms."""

    def __init__(
        self,
        terms: Sequence[Term],
        payloads: Sequence[Mapping[str, Any]],
        selector: Selector,
    ) -> None:
        self._terms = terms
        self._payloads = payloads
        self._selector = selector

    def of(self, indices: Sequence[int]) -> list[Contribution | None]:
        """Return the contribution of each event (by batch index), in the order given."""
        result: list[Contribution | None] = [()] * len(indices)
        for term in self._terms:
            passing = None
            if term.filter is not None:
                passing = set(self._selector.select(term.filter, indices))
            if isinstance(term.measure, CountMeasure):
                add = (term.slot, None, None)
                result = [
                    found if found is None or (passing is not None and index not in passing)
                    else (*found, add)
                    for found, index in zip(result, indices, strict=True)
                ]  # fmt: skip
            else:
                result = self._values(term, indices, passing, result)
        return result

    def _values(
        self,
        term: Term,
        indices: Sequence[int],
        passing: set[int] | None,
        result: list[Contribution | None],
    ) -> list[Contribution | None]:
        payloads = self._payloads
        for position, index in enumerate(indices):
            found = result[position]
            if found is None or (passing is not None and index not in passing):
                continue
            addition = term.addition(payloads[index])
            result[position] = None if addition is None else (*found, addition)
        return result


class _Pending:
    """A cell's additions in this batch, not yet written to its parts."""

    __slots__ = ("cell", "counts", "distinct", "totals")

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.counts = [0, 0, 0]
        self.totals: list[Decimal | None] = [None, None, None]
        self.distinct: list[set[str] | None] = [None, None, None]

    def add(self, contribution: Contribution, repeat: int) -> None:
        for slot, amount, distinct in contribution:
            self.counts[slot] += repeat
            if amount is not None:
                total = self.totals[slot]
                if total is None:
                    part: Part | None = getattr(self.cell, PARTS[slot])
                    total = part.total if part is not None else Decimal(0)
                self.totals[slot] = total + amount
            if distinct is not None:
                values = self.distinct[slot]
                if values is None:
                    values = self.distinct[slot] = set()
                values.add(distinct)

    def write(self) -> None:
        for slot, name in enumerate(PARTS):
            if not self.counts[slot]:
                continue
            part: Part | None = getattr(self.cell, name)
            if part is None:
                part = Part()
                setattr(self.cell, name, part)
            part.count += self.counts[slot]
            total, values = self.totals[slot], self.distinct[slot]
            if total is not None:
                part.total = total
            if values:
                part.distinct |= values


class PendingCells:
    """The pending additions of every cell a KPI's batch touched, keyed by window and cell."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, str], _Pending] = {}

    def add(
        self,
        window_key: str,
        cell_key: str,
        window: OpenWindow,
        contribution: Contribution,
        repeat: int = 1,
    ) -> None:
        """Add an event's contribution (`repeat` times: counts only) to a cell of an open
        window (made when missing)."""
        pending = self._cells.get((window_key, cell_key))
        if pending is None:
            cell = window.cells.get(cell_key)
            if cell is None:
                cell = window.cells[cell_key] = Cell()
            pending = self._cells[(window_key, cell_key)] = _Pending(cell)
        pending.add(contribution, repeat)

    def flush(self) -> None:
        """Write every pending addition to its cell."""
        for pending in self._cells.values():
            pending.write()
        self._cells.clear()
