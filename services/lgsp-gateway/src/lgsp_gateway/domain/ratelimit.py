"""Per-source token buckets: the limit each gateway replica enforces on its share of traffic.

`TokenBucket` is the rule (pure arithmetic on a bucket's tokens and last update); `RateLimiter`
keeps the buckets of one process in a dict. With several worker processes on one host the
buckets live in a table all of them share (`adapters/shared_buckets.py`), which applies the same
rule under a lock; both answer `Limiter.acquire` and can be `resize`d to a new replica count.
`ReplicaCount` says which count a limit is divided by: the live one the replicas' membership
group last gave (`adapters/replica_membership.py`), else the configured fallback, never fewer
than one and never unknown (a replica that loses the group keeps its last share: not unlimited).
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


class SharedLimit(Limiter, Protocol):
    """A limiter whose cluster-wide limit is divided by a replica count that can change."""

    @property
    def replicas(self) -> int:
        """The replica count the limit is divided by now."""
        ...

    def resize(self, replicas: int) -> None:
        """Enforce `1/replicas` of the cluster-wide limit from now on."""
        ...


class ReplicaCount:
    """The count a replica divides its limits by: the group's last answer, else the fallback.

    `observe` takes each count the membership group gives (its members in one generation) and
    says whether the share changed; an impossible count (below one) is ignored, so the last
    valid one stays. Until the group has answered, and when it never does (unreachable, or
    membership off), the configured fallback (`REPLICAS`) holds.
    """

    def __init__(self, fallback: int = 1) -> None:
        if fallback < 1:
            raise ValueError(f"the fallback replica count must be at least 1, not {fallback}")
        self.fallback = fallback
        self.live: int | None = None  # the group's last count, None before its first

    @property
    def value(self) -> int:
        """The count in force: the group's last, else the fallback."""
        return self.live if self.live is not None else self.fallback

    def observe(self, members: int) -> bool:
        """Take a count from the group; return whether the count in force changed."""
        if members < 1:
            return False
        before, self.live = self.value, members
        return members != before


@dataclass(frozen=True)
class TokenBucket:
    """The refill rule: `rate` tokens a second, at most `burst` held."""

    rate: float
    burst: float

    @classmethod
    def share(cls, rate: float, burst: float, replicas: int = 1) -> TokenBucket:
        """Return one replica's share of a cluster-wide limit (at least one token of burst)."""
        if replicas < 1:
            raise ValueError(f"a limit is shared by at least one replica, not {replicas}")
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

    Several replicas: each enforces `rate / replicas` (and the same share of the burst), and
    `resize` sets a new count as replicas come and go. Behind a load balancer that spreads a
    source's requests evenly, the sum equals the cluster-wide limit; see the gateway's docs for
    why no shared counter sits on the hot path.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = TokenBucket(rate, burst)  # cluster-wide
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.resize(replicas)

    @property
    def replicas(self) -> int:
        """The replica count the limit is divided by now."""
        return self._replicas

    def resize(self, replicas: int) -> None:
        """Enforce `1/replicas` of the limit from now on (buckets keep their tokens, capped)."""
        rule = TokenBucket.share(self._limit.rate, self._limit.burst, replicas)
        self._replicas, self._rate, self._burst = replicas, rule.rate, rule.burst

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
