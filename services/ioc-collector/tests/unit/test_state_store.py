"""The SQLite state store: atomic batches, compare-and-set on revisions, shared by replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ioc_collector.adapters.state_and_positions_store import (
    PartitionWrite,
    StateStore,
    StoreConflict,
)
from ioc_collector.settings import CollectorSettings


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[StateStore, StateStore]]:
    """Two replicas' stores on one file, as two collectors on one machine would have."""
    first = StateStore(tmp_path / "state.sqlite3", "group", "replica-1")
    second = StateStore(tmp_path / "state.sqlite3", "group", "replica-2")
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
    await first.commit(lambda: [write(0, 10, None), write(1, 4, None)])
    rows = await second.load([("t", 0), ("t", 1), ("t", 2)])
    assert sorted(rows) == [("t", 0), ("t", 1)]
    assert (rows[("t", 0)].position, rows[("t", 0)].revision) == (10, 1)
    assert rows[("t", 0)].aggregation == b'{"s":10}'
    assert await second.revisions() == {("t", 0): (1, 10), ("t", 1): (1, 4)}


async def test_a_stale_writer_changes_nothing_in_the_whole_batch(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    await first.commit(lambda: [write(0, 10, None), write(1, 4, None)])
    await second.commit(lambda: [write(0, 20, 1)])  # the new owner moved partition 0 on
    with pytest.raises(StoreConflict) as raised:
        await first.commit(lambda: [write(1, 9, 1), write(0, 15, 1)])  # a zombie's batch
    assert raised.value.partitions == [("t", 0)]
    rows = await second.load_all()
    assert (rows[("t", 0)].position, rows[("t", 1)].position) == (20, 4)  # partition 1 too


async def test_two_first_writers_of_a_partition_conflict(
    stores: tuple[StateStore, StateStore],
) -> None:
    first, second = stores
    await first.commit(lambda: [write(0, 3, None)])
    with pytest.raises(StoreConflict):
        await second.commit(lambda: [write(0, 5, None)])


async def test_groups_do_not_see_each_other(tmp_path: Path) -> None:
    one = StateStore(tmp_path / "s.sqlite3", "a", "r")
    other = StateStore(tmp_path / "s.sqlite3", "b", "r")
    try:
        await one.commit(lambda: [write(0, 3, None)])
        assert await other.load_all() == {}
    finally:
        await one.close()
        await other.close()


def test_threshold_overrides_keep_the_other_cadences() -> None:
    settings = CollectorSettings(health_thresholds={"realtime": {"late": 2, "silent": "PT4S"}})
    realtime = settings.thresholds("realtime")
    assert (realtime.late.total_seconds(), realtime.silent.total_seconds()) == (2, 4)
    assert settings.thresholds("monthly").late.days == 35
    assert settings.thresholds(None) == realtime
    assert settings.thresholds("weekly") == realtime
