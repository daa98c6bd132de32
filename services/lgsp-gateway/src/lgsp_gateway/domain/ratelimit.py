"""Per-source token buckets: the limit each gateway replica enforces on its share of traffic.

`TokenBucket` is the rule (pure arithmetic on a bucket's tokens and last update); `RateLimiter`
keeps the buckets of one process in a dict. With several worker processes on one host the
buckets live in a table all of them share (`adapters/shared_buckets.py`), which applies the same
rule under a lock; both answer `Limiter.acquire`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Limiter(Protocol):
    """What the gatekeeper asks of a rate limit."""

    def acquire(self, key: str, n: int = 1) -> float:
        """Take `n` tokens; return 0 when allowed, else the seconds until they would be."""
        ...


@dataclass(frozen=True)
class TokenBucket:
    """The refill rule: `rate` tokens a second, at most `burst` held."""

    rate: float
    burst: float

    @classmethod
    def share(cls, rate: float, burst: float, replicas: int = 1) -> TokenBucket:
        """Return one replica's share of a cluster-wide limit (at least one token of burst)."""
        return cls(rate / replicas, max(burst / replicas, 1.0))

    def take(self, tokens: float, updated: float, now: float, n: int) -> tuple[float, float]:
        """Refill a bucket last updated at `updated` and take `n`: (tokens left, wait in s).

        A refused take leaves the refilled tokens untouched; more than the burst at once can
        never pass (an infinite wait).
        """
        tokens = min(self.burst, tokens + max(now - updated, 0.0) * self.rate)
        if n > self.burst:
            return tokens, float("inf")
        if tokens >= n:
            return tokens - n, 0.0
        return tokens, (n - tokens) / self.rate


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per key in this process; `acquire` takes n tokens or says how long to wait.

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
        rule = TokenBucket.share(rate, burst, replicas)
        self._rate, self._burst = rule.rate, rule.burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, n: int = 1) -> float:
        """Take `n` tokens; return 0 when allowed, else the seconds until they would be."""
        # `TokenBucket.take`, inlined: with one worker this is on every publish's path.
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
