"""State stored per changed window: a commit writes only what moved, and reads back exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import parse_definition
from ioc_collector.domain.events import LOCAL_TZ, EventBatch, EventView
from ioc_collector.domain.id_sets import IdSet
from ioc_collector.domain.state import AggregationState, ImportRun, dump_state
from ioc_collector.domain.state_load import assemble
from ioc_collector.domain.state_rows import window_path
from ioc_collector.domain.stored_parts import CHUNK_IDS, TAIL_CHUNKS, StateChanges, StoredParts

TOPIC = "health.medical-visit.v1"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
DAILY = parse_definition(
    "visits.yaml",
    f"id: visits\ntitle_vi: v\ntitle_en: v\ntopic: {TOPIC}\nmeasure: {{kind: count}}\n"
    "dimensions: [district_code]\nwindow: day\nallowed_lateness: PT1H\nidle_timeout: PT15M\n"
    "time_field: visit_time\nunit: visits\n",
)
MONTHLY = parse_definition(
    "monthly.yaml",
    f"id: monthly\ntitle_vi: m\ntitle_en: m\ntopic: {TOPIC}\nmeasure: {{kind: sum, field: fee}}\n"
    "window: month\nallowed_lateness: P1D\nidle_timeout: PT1H\ntime_field: visit_time\n"
    "unit: VND\n",
)
CATALOGUE = [DAILY, MONTHLY]


class Rows:
    """The rows a store would hold, changed as the store changes them."""

    def __init__(self) -> None:
        self.head = b""
        self.windows: dict[str, bytes] = {}
        self.chunks: dict[str, dict[int, bytes]] = {}

    def apply(self, changes: StateChanges) -> None:
        self.head = changes.head
        if changes.replace:
            self.windows, self.chunks = {}, {}
        for path in changes.dropped_windows:
            self.windows.pop(path, None)
        for path in changes.dropped_id_sets:
            self.chunks.pop(path, None)
        for path, number in changes.dropped_chunks:
            self.chunks.get(path, {}).pop(number, None)
        self.windows.update(changes.windows)
        for path, number, blob in changes.chunks:
            self.chunks.setdefault(path, {})[number] = blob

    def load(self) -> tuple[AggregationState, StoredParts]:
        chunks = {path: list(found.items()) for path, found in self.chunks.items()}
        return assemble(self.head, self.windows, chunks)


def visit(n: int, when: datetime, run: str | None = None, district: str = "747") -> EventView:
    payload = {"district_code": district, "visit_time": when.isoformat(), "fee": 10}
    return EventView(f"v{n}", TOPIC, 0, n, "visit", when, "/sources/so-y-te", payload, run)


def month_state(ids: int) -> AggregationState:
    """A state whose open month window holds `ids` dedup ids."""
    state = AggregationState()
    aggregator = BatchAggregator(CATALOGUE)
    events = [visit(n, NOW - timedelta(minutes=1)) for n in range(ids)]
    aggregator.apply_batch(EventBatch.of(events), state, NOW)
    return state


def test_a_commit_touching_one_window_writes_that_window_and_its_new_ids_only() -> None:
    state, stored, rows = month_state(20_000), StoredParts(), Rows()
    rows.apply(stored.changes(state))
    assert len(rows.windows) == 2  # the day and the month, each one row
    aggregator = BatchAggregator([MONTHLY])  # only the month window moves
    aggregator.apply_batch(EventBatch.of([visit(99_999, NOW)]), state, NOW)
    changes = stored.changes(state)
    month = window_path("k", "monthly", False, "2026-11-01T00:00:00+07:00")
    assert [path for path, _ in changes.windows] == [month]
    assert [(path, blob) for path, _, blob in changes.chunks] == [(month, b'["v99999"]')]
    assert not (changes.dropped_windows or changes.dropped_id_sets or changes.dropped_chunks)
    nothing = stored.changes(state)
    assert not (nothing.windows or nothing.chunks)


def test_the_commit_cost_does_not_grow_with_the_ids_a_window_holds() -> None:
    sizes = []
    for ids in (1_000, 50_000):
        state, stored = month_state(ids), StoredParts()
        stored.changes(state)
        BatchAggregator(CATALOGUE).apply_batch(EventBatch.of([visit(ids, NOW)]), state, NOW)
        changes = stored.changes(state)
        sizes.append(len(changes.head) + sum(len(b) for _, b in changes.windows)
                     + sum(len(b) for _, _, b in changes.chunks))  # fmt: skip
    assert abs(sizes[0] - sizes[1]) < 32  # a few more digits, not 49,000 more ids


def test_ids_are_chunked_and_small_chunks_are_merged() -> None:
    ids, stored, rows = IdSet(), StoredParts(), Rows()
    state = month_state(0)
    state.imports["s r"] = run = state.imports.get("s r") or _run()
    run.seen_ids = ids
    rows.apply(stored.changes(state))
    for n in range(3 * TAIL_CHUNKS):
        run.seen_ids.update(f"id-{n}-{i}" for i in range(CHUNK_IDS // 4))
        rows.apply(stored.changes(state))
    (chunks,) = rows.chunks.values()
    assert len(chunks) <= 2 + TAIL_CHUNKS  # not one per commit
    loaded, _ = rows.load()
    assert loaded.imports["s r"].seen_ids == run.seen_ids


def _run() -> ImportRun:
    return ImportRun(run_id="r", source="s")


def test_a_failed_write_makes_the_next_commit_rewrite_the_partition_whole() -> None:
    state, stored = month_state(10), StoredParts()
    stored.changes(state)  # never written
    stored.invalidate()
    changes = stored.changes(state)
    assert changes.replace and len(changes.windows) == 2
    assert sum(len(blob) for _, _, blob in changes.chunks) > 10 * 2


@st.composite
def mixed_batches(draw: st.DrawFn) -> list[tuple[datetime, list[EventView]]]:
    """Batches of live events and import runs over a few days; the clock moves on."""
    now, offset, result = NOW, 0, []
    for _ in range(draw(st.integers(1, 8))):
        batch = []
        for _ in range(draw(st.integers(0, 12))):
            run = draw(st.sampled_from([None, None, "run-1", "run-2"]))
            back = timedelta(hours=draw(st.integers(0, 24 * 40 if run else 30)))
            number = draw(st.integers(0, 40))  # repeated ids: duplicates
            district = draw(st.sampled_from(["747", "748"]))
            drawn = visit(number, now - back, run, district)
            batch.append(EventView(drawn.event_id, TOPIC, 0, offset, "visit", drawn.time,
                                   drawn.source, drawn.payload, run))  # fmt: skip
            offset += 1
        now += timedelta(minutes=draw(st.integers(0, 90)))
        result.append((now, batch))
    return result


@settings(max_examples=200, deadline=None)
@given(drawn=mixed_batches(), reload_at=st.integers(0, 8))
def test_the_rows_of_each_commit_read_back_as_the_state(
    drawn: list[tuple[datetime, list[EventView]]], reload_at: int
) -> None:
    aggregator = BatchAggregator(CATALOGUE, seal_after=timedelta(minutes=30))
    state, stored, rows = AggregationState(), StoredParts(), Rows()
    for step, (now, batch) in enumerate(drawn):
        aggregator.apply_batch(EventBatch.of(batch), state, now)
        rows.apply(stored.changes(state))
        loaded, loaded_parts = rows.load()
        assert dump_state(loaded) == dump_state(state)
        if step == reload_at:  # a new owner goes on from what it read
            state, stored = loaded, loaded_parts


def test_an_id_set_keeps_its_new_ids_once_and_a_removal_makes_it_rewritten() -> None:
    ids = IdSet(["a"])
    ids.update(["b", "c"])  # all new
    ids.update(["c", "d", "d"])  # one known, one twice
    ids.update(iter(["e", "e"]))  # new, twice, from an iterator
    ids.add("a")
    ids.add("f")
    ids |= {"g"}
    assert sorted(ids.take_added()) == ["b", "c", "d", "e", "f", "g"]
    assert ids.take_added() == [] and not ids.rewritten
    ids.discard("a")
    assert ids.rewritten and ids == {"b", "c", "d", "e", "f", "g"}
