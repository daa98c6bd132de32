"""How long one collector commit takes while its month window holds 10k, 100k and 1M dedup ids.

Run: `uv run --frozen python bench/collector_commit_bench.py [--quick] [--sizes 10000,100000,
1000000] [--commits 30] [--batch 200] [--postgres-url URL | --no-postgres] [--json PATH]`.

Per store (the SQLite file the collector uses by default; PostgreSQL at `--postgres-url`, else a
throwaway server started with `lgsp_devkit.postgres_local` when its binaries are installed) and
per size: one partition's state with an open month window holding that many dedup ids is
written once (not timed as a commit: the first write of a partition writes it whole), then
`--commits` times a batch of `--batch` new events goes through the collector's
`BatchAggregator` into that window and the partition is committed exactly as the stream loop
does (`StoredParts.changes` + `StateStore.commit`, one transaction with the position, a
compare-and-set on the revision). The commit time is that whole step. Each size gets the very
same batches; only the ids already in the window differ. The target: the commit time at the
largest size within 2x of the smallest (flat). Printed beside it, for reference, what the
store before this one paid at each commit: serialising the whole state (`dump_state`).

After the commits the partition is read back and its ids counted; a missing id, a failed
commit or a store that cannot be reached makes that store's figures invalid (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from figures import Figure, Target, finish, invalid, percentile

from ioc_collector.adapters.state_and_positions_store import PartitionWrite, StateStore
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ, EventBatch, EventView
from ioc_collector.domain.state import AggregationState, OpenWindow, dump_state
from ioc_collector.domain.state_load import assemble
from ioc_collector.domain.stored_parts import StoredParts
from lgsp_devkit.postgres_local import LocalPostgres, PostgresLocalError

TOPIC = "bench.commit.v1"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
FLAT = Target("<=", 2.0, "ratio")
WARM_UP = 3
MONTHLY: KpiDefinition = parse_definition(
    "monthly.yaml",
    f"id: monthly\ntitle_vi: Hồ sơ trong tháng\ntitle_en: Dossiers this month\ntopic: {TOPIC}\n"
    "measure: {kind: count}\ndimensions: [district_code]\nwindow: month\n"
    "allowed_lateness: P1D\nidle_timeout: P60D\nunit: dossiers\n",
)
DISTRICTS = ("747", "748", "750", "751", "752")


@dataclass
class Measured:
    """One store and size: the commit times and what went wrong."""

    store: str
    size: int
    commits: list[float] = field(default_factory=list)  # seconds
    initial_s: float = 0.0
    whole_blob_ms: float = 0.0
    errors: int = 0
    note: str = ""


def batch(step: int, size: int) -> EventBatch:
    """Return the `step`-th batch of new events (the same for every size)."""
    at, source = NOW - timedelta(minutes=5), "/sources/bench"
    return EventBatch.of([
        EventView(f"new-{step}-{n}", TOPIC, 0, step * size + n, "dossier", at, source,
                  {"district_code": DISTRICTS[n % len(DISTRICTS)]}, None)
        for n in range(size)
    ])  # fmt: skip


def month_state(aggregator: BatchAggregator, ids: int) -> tuple[AggregationState, OpenWindow]:
    """Return a state whose open month window holds `ids` dedup ids (as if that many events of
    the month had been applied), and that window."""
    state = AggregationState()
    aggregator.apply_batch(batch(-1, 1), state, NOW)
    (window,) = state.kpis["monthly"].open_windows.values()
    window.seen_ids.update(f"seen-{n:09d}" for n in range(ids))
    return state, window


@dataclass
class Partition:
    """One size's partition: its state, what is stored of it, its revision."""

    run: Measured
    number: int
    aggregator: BatchAggregator
    state: AggregationState
    window: OpenWindow
    stored: StoredParts = field(default_factory=StoredParts)
    revision: int | None = None
    position: int = 0

    async def commit(self, store: StateStore) -> float:
        """Commit what changed, as the stream loop does; return the seconds it took."""
        started = time.perf_counter()
        changes = self.stored.changes(self.state)
        self.position += 1
        write = PartitionWrite(
            TOPIC, self.number, self.position, changes.head, b"{}", self.revision, changes
        )
        await store.commit([write])
        self.revision = write.revision
        return time.perf_counter() - started


def prepare(name: str, sizes: Sequence[int]) -> list[Partition]:
    """Build one partition per size (and time serialising its whole state, for reference)."""
    partitions = []
    for number, size in enumerate(sizes):
        aggregator = BatchAggregator([MONTHLY])
        state, window = month_state(aggregator, size)
        run = Measured(name, size)
        started = time.perf_counter()
        dump_state(state)
        run.whole_blob_ms = (time.perf_counter() - started) * 1000
        partitions.append(Partition(run, number, aggregator, state, window))
    return partitions


async def measure(url: str, name: str, args: argparse.Namespace) -> list[Measured]:
    """Write each size's partition once, then commit a batch into each in turn (the sizes
    interleaved, so a busy moment of the machine falls on all of them alike)."""
    partitions = prepare(name, args.sizes)
    store = StateStore(url, f"bench-commit-{time.time_ns()}", "bench")
    await store.open()
    try:
        for partition in partitions:
            partition.run.initial_s = await partition.commit(store)
        for step in range(WARM_UP + args.commits):
            for partition in partitions:
                partition.aggregator.apply_batch(batch(step, args.batch), partition.state, NOW)
                took = await partition.commit(store)
                if step >= WARM_UP:  # the first few warm the connection and the caches up
                    partition.run.commits.append(took)
        for partition in partitions:
            await check(
                store, partition, partition.run.size + 1 + (WARM_UP + args.commits) * args.batch
            )
    finally:
        await store.close()
    return [partition.run for partition in partitions]


async def check(store: StateStore, partition: Partition, expected: int) -> None:
    """Read the partition back: every id must be there."""
    row = (await store.load([(TOPIC, partition.number)]))[(TOPIC, partition.number)]
    loaded, _ = assemble(row.aggregation, row.windows, row.chunks)
    (back,) = loaded.kpis["monthly"].open_windows.values()
    if back.seen_ids != partition.window.seen_ids or len(back.seen_ids) != expected:
        partition.run.errors += 1
        partition.run.note = f"read back {len(back.seen_ids):,} ids, not {expected:,}"


def figures_of(store: str, runs: Sequence[Measured]) -> list[Figure]:
    """Return one figure per size: the commit p50, against the smallest size's."""
    found: list[Figure] = []
    smallest = runs[0]
    base = percentile(smallest.commits, 0.5) * 1000 if smallest.commits else None
    for run in runs:
        target = FLAT if run is runs[-1] else None
        name = f"commit p50, month window {run.size:,} ids ({store})"
        if not run.commits:
            found.append(invalid(name, "ms", run.note or "not measured", target))
            continue
        times = [t * 1000 for t in run.commits]
        found.append(Figure(
            name, percentile(times, 0.5), "ms", baseline=base,
            baseline_name=f"{smallest.size:,} ids", target=target, errors=run.errors,
            note=run.note,
            extra={"p99_ms": percentile(times, 0.99), "max_ms": max(times),
                   "first_write_s": run.initial_s, "whole_state_dump_ms": run.whole_blob_ms},
        ))  # fmt: skip
    return found


async def bench_store(store: str, url: str, args: argparse.Namespace) -> list[Figure]:
    """Measure every size on one store, printing progress."""
    sizes = ", ".join(f"{size:,}" for size in args.sizes)
    print(f"{store}: month windows of {sizes} ids, {args.commits} commits each ...", flush=True)
    try:
        runs = await measure(url, store, args)
    except Exception as exc:  # unreachable store, failed commit: invalid figures
        note = f"{type(exc).__name__}: {exc}"[:200]
        runs = [Measured(store, size, errors=1, note=note) for size in args.sizes]
    for run in runs:
        if not run.commits:
            print(f"  {run.size:>10,} ids: INVALID: {run.note}", flush=True)
            continue
        times = [t * 1000 for t in run.commits]
        print(
            f"  {run.size:>10,} ids: first write {run.initial_s:.2f} s; commits of "
            f"{args.batch} events: p50 {percentile(times, 0.5):.2f} ms, p99 "
            f"{percentile(times, 0.99):.2f} ms; serialising the whole state (the store before) "
            f"{run.whole_blob_ms:,.0f} ms",
            flush=True,
        )
    return figures_of(store, runs)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line (`--quick`: smaller sizes, fewer commits)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k, 10k, 100k ids; 10 commits")
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--commits", type=int)
    parser.add_argument("--batch", type=int, default=200, help="new events per commit")
    parser.add_argument("--postgres-url", help="a PostgreSQL database URL (postgresql+asyncpg)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([1_000, 10_000, 100_000] if args.quick
                                else [10_000, 100_000, 1_000_000])  # fmt: skip
    args.commits = args.commits or (10 if args.quick else 30)
    return args


async def run(args: argparse.Namespace) -> list[Figure]:
    """Run the bench on SQLite, then on PostgreSQL if one is given or can be started."""
    with tempfile.TemporaryDirectory(prefix="commit-bench-") as folder:
        found = await bench_store("sqlite", f"sqlite+aiosqlite:///{folder}/state.sqlite3", args)
        if args.postgres_url:
            return found + await bench_store("postgresql", args.postgres_url, args)
        if args.no_postgres:
            return found
        server = LocalPostgres()
        try:
            server.start()
        except PostgresLocalError as exc:
            print(f"postgresql: not measured ({exc})", flush=True)
            return found
        try:
            url = server.create_database("commit_bench")
            return found + await bench_store("postgresql", url, args)
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and report; return the exit status."""
    args = parse_args(argv)
    started = time.perf_counter()
    found = asyncio.run(run(args))
    print(f"took {time.perf_counter() - started:.0f} s", flush=True)
    return finish("collector commit", found, args.json)


if __name__ == "__main__":
    sys.exit(main())
