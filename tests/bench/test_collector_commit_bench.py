"""The commit bench: every size gets the same batches and is committed as the stream loop
commits (one window and the new ids written), it checks what it reads back, and a store that
fails makes its figures invalid and the bench exit non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import collector_commit_bench as bench
import pytest

from ioc_collector.domain.stored_parts import StoredParts


def test_every_size_gets_the_same_batches_and_only_the_window_ids_differ() -> None:
    small, large = bench.prepare("sqlite", [10, 1_000])
    for partition in (small, large):
        partition.stored.changes(partition.state)
    for step in range(3):
        assert bench.batch(step, 50).event_ids == bench.batch(step, 50).event_ids
        for partition in (small, large):
            partition.aggregator.apply_batch(bench.batch(step, 50), partition.state, bench.NOW)
        writes = [p.stored.changes(p.state) for p in (small, large)]
        # As the stream loop commits: the one window that moved and its new ids, nothing more.
        assert [len(w.windows) for w in writes] == [1, 1]
        (new_small,), (new_large,) = (w.chunks for w in writes)
        assert new_small[2] == new_large[2]  # the same new ids
    assert len(large.window.seen_ids) - len(small.window.seen_ids) == 990


def test_the_flat_target_is_on_the_largest_size_against_the_smallest() -> None:
    runs = [bench.Measured("s", size, commits=[0.001 * factor] * 5)
            for size, factor in ((10, 1.0), (100, 1.5), (1000, 2.5))]  # fmt: skip
    figures = bench.figures_of("s", runs)
    assert [f.target for f in figures[:2]] == [None, None]
    assert figures[2].ratio == pytest.approx(2.5) and figures[2].met is False
    assert figures[0].baseline == figures[2].baseline == pytest.approx(1.0)


def test_a_store_that_fails_makes_its_figures_invalid_and_the_bench_exit_non_zero(
    tmp_path: Path,
) -> None:
    out = tmp_path / "commit.json"
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    status = bench.main(["--sizes", "100,200", "--commits", "2", "--batch", "5",
                         "--postgres-url", unreachable, "--json", str(out)])  # fmt: skip
    assert status == 1
    figures = json.loads(out.read_text())["figures"]
    assert [f["valid"] for f in figures] == [True, True, False, False]
    assert "postgresql" in figures[2]["name"] and figures[2]["value"] is None


async def test_a_missing_id_read_back_is_an_error(tmp_path: Path) -> None:
    store = bench.StateStore(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}", "g", "w")
    await store.open()
    try:
        (partition,) = bench.prepare("sqlite", [100])
        await partition.commit(store)
        partition.stored = StoredParts()  # forgets what it wrote: the next ids are lost...
        partition.window.seen_ids.add("never-written")
        partition.stored.changes(partition.state)
        await bench.check(store, partition, 102)
        assert partition.run.errors == 1 and "read back 101" in partition.run.note
    finally:
        await store.close()
