"""What a partition's store rows hold, and the rows one commit must write to catch up.

`StoredParts` remembers, per window row and per id set, the object last written and a cheap
mark of its content; `changes` compares the live state with it and returns only the rows that
moved: the windows whose events grew (an open window: its id count; a closed window an import
run fills: its event count, checked only while that KPI's runs applied more), the ids added to
each set since the last commit (an `IdSet` keeps them), and the rows of windows or sets that
are gone (a window closed, a KPI dropped, a run sealed). Nothing here is proportional to the
ids a window holds, except writing a set that is new or was rewritten.

Ids are stored in chunks: each commit appends a chunk of the new ids; once more than
`TAIL_CHUNKS` small chunks trail, they are merged into one (at least `CHUNK_IDS` ids: it stays
as it is from then on). So a set of n ids is about n / CHUNK_IDS rows, and a commit writes its
new ids plus, now and then, one merged chunk of bounded size.

The marks are set when the changes are made, before the store has written them; if the write
fails for another reason than a conflict, `invalidate` makes the next commit rewrite the
partition whole (a conflict reloads the partition, and these parts with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioc_collector.domain.id_sets import IdSet
from ioc_collector.domain.state import AggregationState, ClosedWindow, KpiState, OpenWindow
from ioc_collector.domain.state_rows import (
    head_bytes,
    ids_bytes,
    import_runs,
    kpi_states,
    weight,
    window_bytes,
    window_path,
)

CHUNK_IDS = 4096
TAIL_CHUNKS = 8


@dataclass
class StateChanges:
    """The rows one commit writes for a partition (applied in this order: drops, then writes).

    `replace`: delete every window and id row of the partition first (a rewrite whole).
    """

    head: bytes
    replace: bool = False
    dropped_windows: list[str] = field(default_factory=list)
    dropped_id_sets: list[str] = field(default_factory=list)
    dropped_chunks: list[tuple[str, int]] = field(default_factory=list)
    windows: list[tuple[str, bytes]] = field(default_factory=list)
    chunks: list[tuple[str, int, bytes]] = field(default_factory=list)


@dataclass
class StoredWindow:
    """A window row as last written: the object, and its event count (-1: not tracked)."""

    window: OpenWindow | ClosedWindow | None
    weight: int


@dataclass
class StoredIds:
    """An id set's chunks as last written: full chunks are left alone, the tail is merged."""

    ids: set[str] | None
    next_chunk: int = 0
    tail: list[tuple[int, list[str]]] = field(default_factory=list)


class StoredParts:
    """The store rows of one partition as this replica last wrote (or read) them."""

    def __init__(self) -> None:
        self.windows: dict[str, StoredWindow] = {}
        self.id_sets: dict[str, StoredIds] = {}
        self.applied: dict[tuple[str, str], int] = {}  # import events applied, per KPI state
        self._valid = True

    def invalidate(self) -> None:
        """Forget what is stored: the next commit rewrites the partition whole."""
        self._valid = False

    def changes(self, state: AggregationState) -> StateChanges:
        """Return the rows to write so the store holds `state`, and mark them written."""
        out = StateChanges(head=head_bytes(state), replace=not self._valid)
        if out.replace:
            self.windows, self.id_sets, self.applied, self._valid = {}, {}, {}, True
        windows: set[str] = set()
        id_sets: set[str] = set()
        for scope, owner, kpi_state in kpi_states(state):
            self._kpi(out, scope, owner, kpi_state, windows, id_sets)
        for path, run in import_runs(state):
            id_sets.add(path)
            run.seen_ids = self._ids(out, path, run.seen_ids)
        for path in [p for p in self.windows if p not in windows]:
            del self.windows[path]
            out.dropped_windows.append(path)
        for path in [p for p in self.id_sets if p not in id_sets]:
            del self.id_sets[path]
            out.dropped_id_sets.append(path)
        return out

    def _kpi(
        self, out: StateChanges, scope: str, owner: str, kpi_state: KpiState,
        windows: set[str], id_sets: set[str],
    ) -> None:  # fmt: skip
        applied = sum(run.applied for run in kpi_state.imports.values())
        imported = self.applied.get((scope, owner)) != applied
        self.applied[(scope, owner)] = applied
        for key, open_window in kpi_state.open_windows.items():
            path = window_path(scope, owner, False, key)
            windows.add(path)
            id_sets.add(path)
            open_window.seen_ids = self._ids(out, path, open_window.seen_ids)
            self._window(out, path, open_window, len(open_window.seen_ids))
        for key, closed in kpi_state.closed_windows.items():
            path = window_path(scope, owner, True, key)
            windows.add(path)
            stored = self.windows.get(path)
            history = key in kpi_state.history
            if stored is not None and stored.window is closed and not (history and imported):
                continue  # a closed window changes only as import history
            self._window(out, path, closed, weight(closed) if history else -1)

    def _window(
        self, out: StateChanges, path: str, window: OpenWindow | ClosedWindow, mark: int
    ) -> None:
        stored = self.windows.get(path)
        if stored is None or stored.window is not window or stored.weight != mark:
            out.windows.append((path, window_bytes(window)))
            self.windows[path] = StoredWindow(window, mark)

    def _ids(self, out: StateChanges, path: str, ids: set[str]) -> IdSet:
        stored = self.id_sets.get(path)
        if (
            stored is not None
            and stored.ids is ids
            and isinstance(ids, IdSet)
            and not ids.rewritten
        ):
            new = ids.take_added()
            if new:
                self._append(out, path, stored, new)
            return ids
        tracked = ids if isinstance(ids, IdSet) else IdSet(ids)
        tracked.added, tracked.rewritten = [], False
        if stored is not None:
            out.dropped_id_sets.append(path)
        stored = self.id_sets[path] = StoredIds(tracked)
        values = list(tracked)
        for start in range(0, len(values), CHUNK_IDS):
            self._append(out, path, stored, values[start : start + CHUNK_IDS])
        return tracked

    def _append(self, out: StateChanges, path: str, stored: StoredIds, new: list[str]) -> None:
        if len(stored.tail) >= TAIL_CHUNKS:
            out.dropped_chunks.extend((path, number) for number, _ in stored.tail)
            new = [item for _, ids in stored.tail for item in ids] + new
            stored.tail = []
        number = stored.next_chunk
        stored.next_chunk += 1
        out.chunks.append((path, number, ids_bytes(new)))
        if len(new) < CHUNK_IDS:
            stored.tail.append((number, new))
