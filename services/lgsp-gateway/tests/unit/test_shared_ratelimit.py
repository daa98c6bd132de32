"""Token buckets shared by worker processes (a mapped file under flock): one limit per host."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from lgsp_gateway.adapters.shared_buckets import SharedBuckets, SharedBucketsError
from lgsp_gateway.domain.ratelimit import RateLimiter, TokenBucket

NO_REFILL = TokenBucket(rate=1e-9, burst=200)  # no token comes back while a test runs


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 64.0  # binary fractions below keep the arithmetic exact

    def __call__(self) -> float:
        return self.now


def test_the_shared_table_answers_as_the_in_process_limiter(tmp_path: Path) -> None:
    clock = Clock()
    alone = RateLimiter(rate=8, burst=5, clock=clock)
    with SharedBuckets(tmp_path / "b", TokenBucket.share(8, 5), clock=clock) as shared:
        for step in [0, 0, 0, 0, 0, 0, 0.125, 0, 0.5, 0, 0, 0, 3600, 0]:
            clock.now += step
            for key, n in (("a", 1), ("b", 2), ("a", 6)):
                assert shared.acquire(key, n) == alone.acquire(key, n), (step, key, n)


def test_two_handles_on_one_file_share_the_buckets(tmp_path: Path) -> None:
    clock = Clock()
    rule = TokenBucket.share(rate=4, burst=8, replicas=2)  # 2/s, 4 tokens
    with (
        SharedBuckets(tmp_path / "b", rule, clock=clock) as one,
        SharedBuckets(tmp_path / "b", rule, clock=clock) as two,
    ):
        assert one.acquire("src", 3) == 0.0
        assert two.acquire("src", 2) == pytest.approx(0.5)  # 1 left, 1 missing at 2/s
        assert two.acquire("other", 4) == 0.0
        clock.now += 0.5
        assert two.acquire("src", 2) == 0.0
        assert one.acquire("src") > 0


def take_all(path: Path, start: Barrier, tries: int, granted: SimpleQueue[int]) -> None:
    """In a child process: try `tries` single tokens as fast as possible; report how many passed."""
    with SharedBuckets(path, NO_REFILL) as buckets:
        start.wait(30)
        granted.put(sum(buckets.acquire("src") == 0.0 for _ in range(tries)))


def test_processes_taking_at_once_never_get_more_than_the_bucket_holds(tmp_path: Path) -> None:
    fork = multiprocessing.get_context("fork")
    start, granted = fork.Barrier(3), fork.SimpleQueue()
    workers = [
        fork.Process(target=take_all, args=(tmp_path / "b", start, 1000, granted)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    counts = [granted.get() for _ in workers]
    assert sum(counts) == 200, counts  # per-process buckets would have let 600 through
    with SharedBuckets(tmp_path / "b", NO_REFILL) as buckets:
        assert buckets.acquire("src") > 0


def test_a_full_table_gives_a_new_source_the_stalest_slot(tmp_path: Path) -> None:
    clock = Clock()
    rule = TokenBucket(rate=1, burst=2)
    with SharedBuckets(tmp_path / "b", rule, slots=4, clock=clock) as buckets:
        for key in "abcd":
            assert buckets.acquire(key, 2) == 0.0
            clock.now += 0.001
        assert buckets.acquire("e", 2) == 0.0  # evicts "a", the stalest
        assert buckets.acquire("d") > 0  # the others keep their buckets
        assert buckets.acquire("a", 2) == 0.0  # back with a full bucket (it had refilled)


def test_more_than_the_burst_at_once_never_passes_and_a_refusal_takes_nothing(
    tmp_path: Path,
) -> None:
    with SharedBuckets(tmp_path / "b", TokenBucket(rate=100, burst=10), clock=Clock()) as buckets:
        assert buckets.acquire("a", 11) == float("inf")
        assert buckets.acquire("a", 10) == 0.0


def test_a_file_of_another_layout_is_refused(tmp_path: Path) -> None:
    with SharedBuckets(tmp_path / "b", NO_REFILL, slots=8):
        pass
    with pytest.raises(SharedBucketsError):
        SharedBuckets(tmp_path / "b", NO_REFILL, slots=16)
    (tmp_path / "c").write_bytes(b"x" * 64)
    with pytest.raises(SharedBucketsError):
        SharedBuckets(tmp_path / "c", NO_REFILL)
