"""A partition's state as rows: a head, one row per window, the dedup ids in chunks.

The head is the state without its windows and without any dedup id: KPI counters, watermarks,
import runs' counters, backfill progress, the processing clock. Each window (open or closed, of
a live KPI or of a KPI still backfilling) is one row holding its cells, addressed by a path.
The dedup ids of an open window, and of an import run not sealed yet, are rows of chunks under
the same kind of path. A commit then writes the head and only the windows and id chunks that
changed (`domain/stored_parts.py`), so its cost no longer grows with the ids a window holds.

Paths are canonical JSON arrays, so any KPI id, backfill id, window key or run key is safe:
  ["k", kpi_id, "o"|"c", window_key]   a live KPI's open/closed window (its ids: the "o" path)
  ["b", backfill_id, "o"|"c", key]     the same for a KPI still backfilling
  ["i", run_key]                       an import run's ids; ["bi", backfill_id, run_key] a
                                       backfill's own copy of a run
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

from ioc_collector.domain.state import (
    AggregationState,
    ClosedWindow,
    ImportRun,
    KpiState,
    OpenWindow,
)

_WINDOWS = {"open_windows", "closed_windows"}
_RUN_IDS = {"__all__": {"seen_ids"}}
HEAD_EXCLUDE: dict[str, Any] = {
    "kpis": {"__all__": _WINDOWS},
    "imports": _RUN_IDS,
    "backfills": {"__all__": {"kpi": _WINDOWS, "imports": _RUN_IDS}},
}


def canonical_bytes(data: Any) -> bytes:
    """Return the canonical JSON bytes of plain data (sorted keys), as `dump_state` writes."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):  # an integer beyond 64 bits, a lone surrogate
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def path_of(*parts: str) -> str:
    """Return the row path of a part of the state."""
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


def parts_of(path: str) -> list[str]:
    """Return the parts a row path names."""
    parts = json.loads(path)
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise ValueError(f"not a state row path: {path!r}")
    return parts


def head_bytes(state: AggregationState) -> bytes:
    """Serialise the state without its windows and dedup ids (canonical JSON)."""
    return canonical_bytes(state.model_dump(mode="json", exclude=HEAD_EXCLUDE))


def window_bytes(window: OpenWindow | ClosedWindow) -> bytes:
    """Serialise a window's cells (never its ids)."""
    return canonical_bytes(window.model_dump(mode="json", exclude={"seen_ids"}))


def ids_bytes(ids: list[str]) -> bytes:
    """Serialise a chunk of ids."""
    return orjson.dumps(ids)


def ids_of(blob: bytes) -> list[str]:
    """Parse a chunk of ids."""
    ids = orjson.loads(blob)
    if not isinstance(ids, list):
        raise ValueError("not a chunk of ids")
    return [str(item) for item in ids]


def kpi_states(state: AggregationState) -> Iterator[tuple[str, str, KpiState]]:
    """Yield (scope, owner, KPI state) for every live KPI ("k") and backfilling KPI ("b")."""
    for kpi_id, kpi_state in state.kpis.items():
        yield "k", kpi_id, kpi_state
    for backfill_id, backfill in state.backfills.items():
        if backfill.kpi is not None:
            yield "b", backfill_id, backfill.kpi


def import_runs(state: AggregationState) -> Iterator[tuple[str, ImportRun]]:
    """Yield (ids path, run) for every import run, the backfills' own included."""
    for key, run in state.imports.items():
        yield path_of("i", key), run
    for backfill_id, backfill in state.backfills.items():
        for key, run in backfill.imports.items():
            yield path_of("bi", backfill_id, key), run


def window_path(scope: str, owner: str, closed: bool, key: str) -> str:
    """Return the path of a window's row (an open window's ids share it)."""
    return path_of(scope, owner, "c" if closed else "o", key)


def weight(window: OpenWindow | ClosedWindow) -> int:
    """Return the events a window's cells count: it grows with every event added to them."""
    total = 0
    for cell in window.cells.values():
        for part in (cell.main, cell.numerator, cell.denominator):
            if part is not None:
                total += part.count
    return total
