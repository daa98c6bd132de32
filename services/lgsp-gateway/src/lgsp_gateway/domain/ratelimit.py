"""Per-source token buckets: the limit each gateway replica enforces on its share of traffic."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per key; `acquire` takes n tokens or says how long to wait.

    Several replicas: each enforces `rate / replicas` (and the same share of the burst). Behind a
    load balancer that spreads a source's requests evenly, the sum equals the cluster-wide
    limit; see the gateway's docs for why no shared counter sits on the hot path.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate / replicas
        self._burst = max(burst / replicas, 1.0)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, n: int = 1) -> float:
        """Take `n` tokens; return 0 when allowed, else the seconds until they would be."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if n > self._burst:
            return float("inf")
        if bucket.tokens >= n:
            bucket.tokens -= n
            return 0.0
        return (n - bucket.tokens) / self._rate
