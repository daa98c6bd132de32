"""A small, independent evaluator of the KPI definitions (`services/ioc-collector/kpis/*.yaml`).

It reads the same YAML the collector reads, never the collector's code, and computes what the
collector must report for a set of accepted events, following the collector's documented rules:
- filter: every `where` condition holds (and `ce_type` if set); JSON types stay apart (true is
  not 1); a missing field satisfies only `ne`, `not_in` and `exists: false`;
- time: `time_field` (a date is local midnight, `YYYY-MM` the first of the month, a date-time
  needs an offset) or the CloudEvent time; windows are tumbling hour/day/month in
  Asia/Ho_Chi_Minh;
- measure: count, sum, average, distinct count, or a ratio in percent of two terms each with its
  own filter (or a fixed reference denominator); an event whose needed value is unusable is
  skipped for that KPI; an event id counts once per window;
- arithmetic: exact (integers and Decimals; a ratio is `Decimal(n) * 100 / Decimal(d)` in the
  default 28-digit context), turned into a float once, at the end; roll-ups over dimensions add
  the parts (a distinct count unions its sets, a ratio divides the summed terms).
The simulator keeps every event time inside windows that are still open, so lateness never
applies (see `drafts.before` and the departments' time choices).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from lgsp_simulators.departments.drafts import LOCAL_TZ

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_MISSING = object()
Definition = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Observed:
    """One event the gateway accepted (or the adapter published), as the collector reads it."""

    event_id: str
    topic: str
    ce_type: str
    time: datetime
    payload: Mapping[str, Any]


@dataclass(slots=True)
class Part:
    """Partial aggregate of one measure or ratio term."""

    count: int = 0
    total: Decimal = Decimal(0)
    distinct: set[str] = field(default_factory=set)

    def add(self, other: Part) -> None:
        """Add another part into this one."""
        self.count += other.count
        self.total += other.total
        self.distinct |= other.distinct


Cell = dict[str, Part]  # "main", or a ratio's "numerator" / "denominator"


def load_definitions(kpis_dir: Path) -> list[dict[str, Any]]:
    """Read every KPI YAML file of a folder, in name order."""
    found = []
    for path in sorted(kpis_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "id" not in data:
            raise ValueError(f"{path}: not a KPI definition")
        found.append(data)
    return found


def resolve(payload: Mapping[str, Any], ref: str) -> Any:
    """Return a payload value by field name or RFC 6901 JSON Pointer (or the MISSING marker)."""
    if not ref.startswith("/"):
        return payload.get(ref, _MISSING)
    current: Any = payload
    for token in (t.replace("~1", "/").replace("~0", "~") for t in ref[1:].split("/")):
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return _MISSING
    return current


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _holds(condition: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    actual, op = resolve(payload, condition["field"]), condition["op"]
    expected = condition.get("value")
    if op == "exists":
        return (actual is not _MISSING) == (expected is None or bool(expected))
    if actual is _MISSING:
        return bool(op in ("ne", "not_in"))
    if op in ("in", "not_in"):
        hit = any(_json_equal(actual, v) for v in (expected or ()))
        return hit is (op == "in")
    if op in ("eq", "ne"):
        return _json_equal(actual, expected) is (op == "eq")
    comparable = (
        not isinstance(actual, bool)
        and not isinstance(expected, bool)
        and (
            (isinstance(actual, int | float) and isinstance(expected, int | float))
            or (isinstance(actual, str) and isinstance(expected, str))
        )
    )
    checks = {"gt": lambda: actual > expected, "gte": lambda: actual >= expected,
              "lt": lambda: actual < expected, "lte": lambda: actual <= expected}  # fmt: skip
    return comparable and bool(checks[op]())


def passes(flt: Mapping[str, Any] | None, event: Observed) -> bool:
    """Tell whether an event passes a filter block."""
    flt = flt or {}
    if flt.get("ce_type") is not None and event.ce_type != flt["ce_type"]:
        return False
    return all(_holds(c, event.payload) for c in flt.get("where") or ())


def parse_time(value: Any) -> datetime | None:
    """Parse a date, a YYYY-MM month or an RFC 3339 date-time with offset into local time."""
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ) if value.tzinfo else None
    if not isinstance(value, str):
        return None
    try:
        if found := _DATE.match(value):
            return datetime(int(found[1]), int(found[2]), int(found[3]), tzinfo=LOCAL_TZ)
        if found := _MONTH.match(value):
            return datetime(int(found[1]), int(found[2]), 1, tzinfo=LOCAL_TZ)
        if _DATE_TIME.match(value):
            return datetime.fromisoformat(value).astimezone(LOCAL_TZ)
    except ValueError:
        return None
    return None


def window_of(moment: datetime, size: str) -> tuple[datetime, datetime]:
    """Return the tumbling window [start, end) of `size` that holds `moment`, in local time."""
    at = moment.astimezone(LOCAL_TZ)
    if size == "hour":
        start = datetime(at.year, at.month, at.day, at.hour, tzinfo=LOCAL_TZ)
        return start, (start.astimezone(UTC) + timedelta(hours=1)).astimezone(LOCAL_TZ)
    if size == "day":
        start = datetime(at.year, at.month, at.day, tzinfo=LOCAL_TZ)
        following = date(at.year, at.month, at.day) + timedelta(days=1)
        return start, datetime(following.year, following.month, following.day, tzinfo=LOCAL_TZ)
    start = datetime(at.year, at.month, 1, tzinfo=LOCAL_TZ)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return start, datetime(year, month, 1, tzinfo=LOCAL_TZ)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _part(term: Mapping[str, Any], event: Observed) -> Part | None:
    kind = term["kind"]
    if kind == "count":
        return Part(count=1)
    value = resolve(event.payload, term["field"])
    if kind in ("sum", "average"):
        amount = _number(value)
        return None if amount is None else Part(count=1, total=amount)
    if value is _MISSING or value is None:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Part(count=1, distinct={text})


def contributions(measure: Mapping[str, Any], event: Observed) -> Cell | None:
    """Return what an event adds to its cell, or None when a needed value is unusable."""
    if measure["kind"] != "ratio":
        found = _part(measure, event)
        return None if found is None else {"main": found}
    cell: Cell = {}
    for name in ("numerator", "denominator"):
        term = measure[name]
        if term["kind"] == "reference" or not passes(term.get("filter"), event):
            continue
        found = _part(term, event)
        if found is None:
            return None
        cell[name] = found
    return cell


def _term_value(term: Mapping[str, Any], part: Part | None) -> Decimal | None:
    part = part or Part()
    kind = term["kind"]
    if kind == "count":
        return Decimal(part.count)
    if kind == "sum":
        return part.total
    if kind == "distinct_count":
        return Decimal(len(part.distinct))
    return part.total / part.count if part.count else None  # average


def value_of(definition: Definition, cell: Cell) -> float | None:
    """Return a cell's KPI value (a ratio in percent), None when undefined."""
    measure = definition["measure"]
    if measure["kind"] != "ratio":
        found = _term_value(measure, cell["main"]) if "main" in cell else None
        return None if found is None else float(found)
    if not cell:
        return None
    numerator = _term_value(measure["numerator"], cell.get("numerator"))
    if measure["denominator"]["kind"] == "reference":
        denominator: Decimal | None = Decimal(repr(float(definition["reference"]["value"])))
    else:
        denominator = _term_value(measure["denominator"], cell.get("denominator"))
    if numerator is None or not denominator:
        return None
    return float(numerator * 100 / denominator)


def merge(cells: Iterable[Cell]) -> Cell:
    """Return the roll-up of several cells."""
    result: Cell = {}
    for cell in cells:
        for name, part in cell.items():
            result.setdefault(name, Part()).add(part)
    return result


def _dims_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _window_truth(
    definition: Definition, start: datetime, end: datetime, cells: Mapping[tuple[Any, ...], Cell]
) -> dict[str, Any]:
    names = list(definition.get("dimensions") or [])
    by_dimension: dict[str, dict[str, float | None]] = {}
    for index, name in enumerate(names):
        values = sorted({_dims_text(key[index]) for key in cells})
        by_dimension[name] = {
            text: value_of(
                definition,
                merge(c for key, c in cells.items() if _dims_text(key[index]) == text),
            )
            for text in values
        }
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "value": value_of(definition, merge(cells.values())) if cells else None,
        "cells": [
            {"dims": dict(zip(names, key, strict=True)), "value": value_of(definition, cell)}
            for key, cell in sorted(cells.items(), key=lambda item: json.dumps(item[0]))
        ],
        "by_dimension": by_dimension,
    }


def evaluate_kpi(definition: Definition, events: Iterable[Observed]) -> dict[str, Any]:
    """Return what the collector must report for one KPI: every window, cell and roll-up."""
    windows: dict[datetime, tuple[datetime, dict[tuple[Any, ...], Cell]]] = {}
    seen: dict[datetime, set[str]] = {}
    skipped = 0
    names = list(definition.get("dimensions") or [])
    for event in events:
        if event.topic != definition["topic"] or not passes(definition.get("filter"), event):
            continue
        time_field = definition.get("time_field")
        moment = parse_time(
            event.time if time_field is None else resolve(event.payload, time_field)
        )
        added = None if moment is None else contributions(definition["measure"], event)
        if moment is None or added is None:
            skipped += 1
            continue
        start, end = window_of(moment, definition["window"])
        if event.event_id in seen.setdefault(start, set()):
            continue
        seen[start].add(event.event_id)
        cells = windows.setdefault(start, (end, {}))[1]
        if added:
            dims = tuple(None if (v := resolve(event.payload, n)) is _MISSING else v for n in names)
            cell = cells.setdefault(dims, {})
            for part_name, part in added.items():
                cell.setdefault(part_name, Part()).add(part)
    return {
        "topic": definition["topic"],
        "window": definition["window"],
        "dimensions": names,
        "skipped_events": skipped,
        "windows": [
            _window_truth(definition, start, end, cells)
            for start, (end, cells) in sorted(windows.items())
        ],
    }


def evaluate(definitions: Iterable[Definition], events: Iterable[Observed]) -> dict[str, Any]:
    """Return the expected values of every KPI, by id."""
    accepted = list(events)
    return {d["id"]: evaluate_kpi(d, accepted) for d in definitions}
