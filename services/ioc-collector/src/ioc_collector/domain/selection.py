"""Selecting the events of a batch that pass a KPI filter, a condition at a time (pure).

Equivalent to `filters.matches` event by event, but a condition is evaluated over a whole list
of payloads in one comprehension, and over the whole batch at most once (the KPIs of a topic
share conditions such as `status eq returned`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ioc_collector.domain.aggregate import canonical_json
from ioc_collector.domain.definitions import Condition, Filter
from ioc_collector.domain.events import MISSING
from ioc_collector.domain.filters import condition_holds

Indices = Sequence[int]
Payloads = Sequence[Mapping[str, Any]]


def holding(condition: Condition, payloads: Payloads, within: Indices) -> Indices:
    """Return the indices (of `within`) whose payload satisfies the condition."""
    name, op, expected = condition.field, condition.op, condition.value
    if not name.startswith("/") and op in ("eq", "ne"):
        # JSON types stay apart: no other JSON value equals a string, and true and false are
        # singletons (1 == True in Python, never in JSON). A missing field satisfies only ne.
        if isinstance(expected, str):
            if op == "eq":
                return [i for i in within if payloads[i].get(name) == expected]
            return [i for i in within if payloads[i].get(name, MISSING) != expected]
        if isinstance(expected, bool):
            if op == "eq":
                return [i for i in within if payloads[i].get(name) is expected]
            return [i for i in within if payloads[i].get(name) is not expected]
    return [i for i in within if condition_holds(condition, payloads[i])]


class Selector:
    """Selects a batch's events by filter; whole-batch results are kept for the next KPI."""

    def __init__(self, payloads: Payloads, ce_types: Sequence[str]) -> None:
        self._payloads = payloads
        self._ce_types = ce_types
        self._all = range(len(payloads))
        self._kept: dict[tuple[str, ...], Indices] = {}

    def select(self, flt: Filter, within: Indices | None = None) -> Indices:
        """Return the indices (of `within`, default all) of the events passing the filter."""
        indices: Indices = self._all if within is None else within
        if flt.ce_type is not None:
            ce_type, types = flt.ce_type, self._ce_types
            key: tuple[str, ...] = ("ce_type", ce_type)
            if indices is self._all and key in self._kept:
                indices = self._kept[key]
            else:
                indices = self._keep(key, indices, [i for i in indices if types[i] == ce_type])
        for condition in flt.where:
            key = (condition.field, condition.op, canonical_json(condition.value))
            if indices is self._all and key in self._kept:
                indices = self._kept[key]
            else:
                indices = self._keep(key, indices, holding(condition, self._payloads, indices))
        return indices

    def _keep(self, key: tuple[str, ...], given: Indices, found: Indices) -> Indices:
        if given is self._all:
            self._kept[key] = found
        return found
