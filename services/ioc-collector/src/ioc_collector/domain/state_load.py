"""A partition's state put back together from its rows: head, windows, id chunks.

The parts read are recorded as stored (`StoredParts`), so the next commit writes only what
moves on from here. Rows that no longer belong to anything in the head (which a commit never
leaves behind, but a hand-edited store might) are recorded too, so that commit removes them. A
head written before windows had rows of their own still holds its windows and ids: they load
as they are, are not recorded, and so the first commit writes them as rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ioc_collector.domain.id_sets import IdSet
from ioc_collector.domain.state import (
    AggregationState,
    ClosedWindow,
    ImportRun,
    KpiState,
    OpenWindow,
    load_state,
)
from ioc_collector.domain.state_rows import (
    ids_of,
    import_runs,
    kpi_states,
    parts_of,
    weight,
)
from ioc_collector.domain.stored_parts import CHUNK_IDS, StoredIds, StoredParts, StoredWindow

Chunks = Sequence[tuple[int, bytes]]


def assemble(
    head: bytes, windows: Mapping[str, bytes], chunks: Mapping[str, Chunks] | None = None
) -> tuple[AggregationState, StoredParts]:
    """Return the state the rows hold and what is stored of it (`chunks` None: no ids read,
    for a read-only view; its stored parts must not be used to commit)."""
    state = load_state(head)
    stored = StoredParts()
    owners = {(scope, owner): kpi for scope, owner, kpi in kpi_states(state)}
    for path, blob in windows.items():
        _place_window(state, owners, stored, path, blob)
    runs = dict(import_runs(state))
    for path, parts in (chunks or {}).items():
        _place_ids(owners, runs, stored, path, parts)
    for (scope, owner), kpi_state in owners.items():
        stored.applied[(scope, owner)] = sum(r.applied for r in kpi_state.imports.values())
    for found in stored.windows.values():
        if isinstance(found.window, OpenWindow):
            found.weight = len(found.window.seen_ids)
    return state, stored


def _place_window(
    state: AggregationState, owners: Mapping[tuple[str, str], KpiState],
    stored: StoredParts, path: str, blob: bytes,
) -> None:  # fmt: skip
    scope, owner, kind, key = parts_of(path)
    kpi_state = owners.get((scope, owner))
    if kpi_state is None:
        stored.windows[path] = StoredWindow(None, -1)  # an orphan: the next commit drops it
        return
    if kind == "o":
        opened = kpi_state.open_windows[key] = OpenWindow.model_validate_json(blob)
        stored.windows[path] = StoredWindow(opened, 0)
    else:
        closed = kpi_state.closed_windows[key] = ClosedWindow.model_validate_json(blob)
        mark = weight(closed) if key in kpi_state.history else -1
        stored.windows[path] = StoredWindow(closed, mark)


def _place_ids(
    owners: Mapping[tuple[str, str], KpiState], runs: Mapping[str, ImportRun],
    stored: StoredParts, path: str, parts: Chunks,
) -> None:  # fmt: skip
    ids = IdSet()
    found = StoredIds(ids)
    for number, blob in sorted(parts):
        chunk = ids_of(blob)
        set.update(ids, chunk)
        found.next_chunk = max(found.next_chunk, number + 1)
        if len(chunk) < CHUNK_IDS:
            found.tail.append((number, chunk))
    stored.id_sets[path] = found
    target = _id_owner(owners, runs, path)
    if target is None:
        found.ids = None  # an orphan: the next commit drops it
    else:
        target.seen_ids = ids


def _id_owner(
    owners: Mapping[tuple[str, str], KpiState], runs: Mapping[str, ImportRun], path: str
) -> OpenWindow | ImportRun | None:
    if path in runs:
        return runs[path]
    parts = parts_of(path)
    if len(parts) != 4 or parts[2] != "o":
        return None
    kpi_state = owners.get((parts[0], parts[1]))
    return None if kpi_state is None else kpi_state.open_windows.get(parts[3])
