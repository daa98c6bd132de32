"""The state store, on SQLite and on PostgreSQL: atomic batches, compare-and-set on revisions,
shared by replicas, state stored per changed window."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ioc_collector.adapters.state_and_positions_store import (
    PartitionWrite,
    StateStore,
    StoreConflict,
)
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import parse_definition
from ioc_collector.domain.events import LOCAL_TZ, EventBatch, EventView
from ioc_collector.domain.state import AggregationState, dump_state
from ioc_collector.domain.state_load import assemble
from ioc_collector.domain.stored_parts import StateChanges, StoredParts
from ioc_collector.settings import CollectorSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)

TOPIC = "health.medical-visit.v1"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
MONTHLY = parse_definition(
    "monthly.yaml",
    f"id: monthly\ntitle_vi: m\ntitle_en: m\ntopic: {TOPIC}\nmeasure: {{kind: count}}\n"
    "dimensions: [district_code]\nwindow: month\nallowed_lateness: P1D\nidle_timeout: P40D\n"
    "unit: visits\n",
)


@pytest.fixture
async def stores(collector_store_url: str) -> AsyncIterator[tuple[StateStore, StateStore]]:  # noqa: F811
    """Two replicas' stores on one database, as two collectors would have."""
    first = StateStore(collector_store_url, "group", "replica-1")
    second = StateStore(collector_store_url, "group", "replica-2")
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def write(partition: int, position: int, revision: int | None) -> PartitionWrite:
    return PartitionWrite("t", partition, position, b'{"s":%d}' % position, b"{}", revision)


async def test_a_batch_is_stored_with_its_positions_and_read_back(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    await first.commit([write(0, 10, None), write(1, 4, None)])
    rows = await second.load([("t", 0), ("t", 1), ("t", 2)])
    assert sorted(rows) == [("t", 0), ("t", 1)]
    assert (rows[("t", 0)].position, rows[("t", 0)].revision) == (10, 1)
    assert rows[("t", 0)].aggregation == b'{"s":10}'
    assert await second.revisions() == {("t", 0): (1, 10), ("t", 1): (1, 4)}


async def test_a_stale_writer_changes_nothing_in_the_whole_batch(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    await first.commit([write(0, 10, None), write(1, 4, None)])
    await second.commit([write(0, 20, 1)])  # the new owner moved partition 0 on
    zombie = StateChanges(b'{"s":15}', windows=[('["k","x","o","w"]', b"{}")])
    with pytest.raises(StoreConflict) as raised:  # a zombie's batch
        await first.commit([write(1, 9, 1), PartitionWrite("t", 0, 15, b"", b"{}", 1, zombie)])
    assert raised.value.partitions == [("t", 0)]
    rows = await second.load_all()
    assert (rows[("t", 0)].position, rows[("t", 1)].position) == (20, 4)  # partition 1 too
    assert rows[("t", 0)].windows == {}


async def test_two_first_writers_of_a_partition_conflict(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    await first.commit([write(0, 3, None)])
    with pytest.raises(StoreConflict):
        await second.commit([write(0, 5, None)])


async def test_groups_do_not_see_each_other(collector_store_url: str) -> None:  # noqa: F811
    one = StateStore(collector_store_url, "a", "r")
    other = StateStore(collector_store_url, "b", "r")
    await one.open()
    await other.open()
    try:
        await one.commit([write(0, 3, None)])
        assert await other.load_all() == {}
    finally:
        await one.close()
        await other.close()


def visits(first: int, count: int, district: str = "747") -> EventBatch:
    return EventBatch.of([
        EventView(f"v{n}", TOPIC, 0, n, "visit", NOW - timedelta(hours=1), "/s",
                  {"district_code": district}, None)
        for n in range(first, first + count)
    ])  # fmt: skip


async def commit(
    store: StateStore, state: AggregationState, stored: StoredParts, revision: int | None
) -> int:
    changes = stored.changes(state)
    entry = PartitionWrite("t", 0, 1, changes.head, b"{}", revision, changes)
    await store.commit([entry])
    return entry.revision


async def test_the_state_is_stored_per_window_and_read_back_exactly(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    aggregator, state, stored = BatchAggregator([MONTHLY]), AggregationState(), StoredParts()
    aggregator.apply_batch(visits(0, 10_000), state, NOW)
    revision = await commit(first, state, stored, None)
    for step in range(1, 12):  # more commits than chunks are kept
        aggregator.apply_batch(visits(10_000 + step * 10, 10, str(step % 2)), state, NOW)
        revision = await commit(first, state, stored, revision)
    row = (await second.load([("t", 0)]))[("t", 0)]
    assert len(row.windows) == 1 and row.chunks is not None
    assert sum(len(chunks) for chunks in row.chunks.values()) < 12
    loaded, parts = assemble(row.aggregation, row.windows, row.chunks)
    assert dump_state(loaded) == dump_state(state)
    aggregator.apply_batch(visits(99_000, 1), loaded, NOW)  # the next owner goes on
    changes = parts.changes(loaded)
    assert len(changes.windows) == 1 and len(changes.chunks) in (1, 2)


async def test_a_closed_window_leaves_its_ids_behind(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, _ = stores
    aggregator, state, stored = BatchAggregator([MONTHLY]), AggregationState(), StoredParts()
    aggregator.apply_batch(visits(0, 100), state, NOW)
    revision = await commit(first, state, stored, None)
    aggregator.tick(state, NOW + timedelta(days=60))  # past the month and its lateness
    assert state.kpis["monthly"].closed_windows
    await commit(first, state, stored, revision)
    row = (await first.load([("t", 0)]))[("t", 0)]
    assert row.chunks == {} and len(row.windows) == 1
    assert dump_state(assemble(row.aggregation, row.windows, row.chunks)[0]) == dump_state(state)


def test_threshold_overrides_keep_the_other_cadences() -> None:
    settings = CollectorSettings(health_thresholds={"realtime": {"late": 2, "silent": "PT4S"}})
    realtime = settings.thresholds("realtime")
    assert (realtime.late.total_seconds(), realtime.silent.total_seconds()) == (2, 4)
    assert settings.thresholds("monthly").late.days == 35
    assert settings.thresholds(None) == realtime
    assert settings.thresholds("weekly") == realtime


def test_the_store_is_the_sqlite_file_unless_a_url_is_given() -> None:
    settings = CollectorSettings(store_path="/data/c.sqlite3")
    assert settings.store_database_url() == "sqlite+aiosqlite:////data/c.sqlite3"
    url = "postgresql+asyncpg://ioc@db/collector"
    assert CollectorSettings(store_url=url).store_database_url() == url


async def test_a_commit_touching_one_window_rewrites_that_window_row_only(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, _ = stores
    daily = parse_definition(
        "daily.yaml",
        f"id: daily\ntitle_vi: d\ntitle_en: d\ntopic: {TOPIC}\nmeasure: {{kind: count}}\n"
        "window: day\nallowed_lateness: P1D\nidle_timeout: P40D\nunit: visits\n",
    )
    state, stored = AggregationState(), StoredParts()
    BatchAggregator([MONTHLY, daily]).apply_batch(visits(0, 500), state, NOW)
    revision = await commit(first, state, stored, None)
    before = (await first.load([("t", 0)]))[("t", 0)]
    BatchAggregator([MONTHLY]).apply_batch(visits(500, 1), state, NOW)  # the month only
    await commit(first, state, stored, revision)
    after = (await first.load([("t", 0)]))[("t", 0)]
    assert len(before.windows) == len(after.windows) == 2
    moved = [path for path in after.windows if after.windows[path] != before.windows[path]]
    assert len(moved) == 1 and '"monthly"' in moved[0]
    assert before.chunks is not None and after.chunks is not None
    assert {p: len(c) for p, c in after.chunks.items()} == {
        p: len(c) + ('"monthly"' in p) for p, c in before.chunks.items()
    }  # one new chunk, in the month window's ids


async def test_a_store_file_from_before_the_migrations_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    state = AggregationState()
    BatchAggregator([MONTHLY]).apply_batch(visits(0, 50), state, NOW)
    with sqlite3.connect(path) as db:  # the table and the whole-state blob of the old store
        db.execute(
            "CREATE TABLE partition_state (group_id TEXT NOT NULL, topic TEXT NOT NULL, "
            "partition INTEGER NOT NULL, position INTEGER NOT NULL, revision INTEGER NOT NULL, "
            "aggregation BLOB NOT NULL, activity BLOB NOT NULL, committed_at TEXT NOT NULL, "
            "committed_by TEXT NOT NULL, PRIMARY KEY (group_id, topic, partition))"
        )
        db.execute(
            "INSERT INTO partition_state VALUES ('group', 't', 0, 50, 7, ?, '{}', 'then', 'old')",
            (dump_state(state),),
        )
    store = StateStore(path, "group", "new")
    await store.open()
    try:
        row = (await store.load([("t", 0)]))[("t", 0)]
        loaded, stored = assemble(row.aggregation, row.windows, row.chunks)
        assert dump_state(loaded) == dump_state(state)
        await commit(store, loaded, stored, row.revision)  # the first commit writes the rows
        row = (await store.load([("t", 0)]))[("t", 0)]
        assert len(row.windows) == 1 and row.chunks and b"seen_ids" not in row.aggregation
        assert dump_state(assemble(row.aggregation, row.windows, row.chunks)[0]) == dump_state(
            state
        )
    finally:
        await store.close()
