"""The per-source rate limit: token buckets (pure) and the 429 answer over HTTP."""

from __future__ import annotations

import pytest
from gateway_fakes import TOPIC, VALID, Gateway

from lgsp_gateway.domain.ratelimit import RateLimiter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 64.0  # binary fractions below keep the arithmetic exact

    def __call__(self) -> float:
        return self.now


def test_the_burst_is_available_at_once_then_the_rate_refills_it() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=8, burst=5, clock=clock)
    assert [limiter.acquire("a") for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("a") == 0.125
    clock.now += 0.125
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    limiter.acquire("a")
    clock.now += 3600
    assert limiter.acquire("a", 5) == 0.0
    assert limiter.acquire("a") == pytest.approx(0.1)


def test_sources_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1, burst=2, clock=Clock())
    assert limiter.acquire("a", 2) == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b", 2) == 0.0


def test_the_wait_is_for_the_missing_tokens() -> None:
    limiter = RateLimiter(rate=4, burst=8, clock=Clock())
    limiter.acquire("a", 6)
    assert limiter.acquire("a", 5) == pytest.approx(0.75)  # 2 left, 3 missing at 4/s


def test_more_than_the_burst_at_once_can_never_pass() -> None:
    limiter = RateLimiter(rate=100, burst=10, clock=Clock())
    assert limiter.acquire("a", 11) == float("inf")
    assert limiter.acquire("a", 10) == 0.0  # the refused call took nothing


def test_each_replica_enforces_its_share() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=100, burst=40, replicas=4, clock=clock)
    assert limiter.acquire("a", 10) == 0.0
    assert limiter.acquire("a") == pytest.approx(1 / 25)
    assert limiter.acquire("a", 11) == float("inf")


def test_the_burst_is_at_least_one_token_per_replica() -> None:
    limiter = RateLimiter(rate=1, burst=1, replicas=10, clock=Clock())
    assert limiter.acquire("a") == 0.0


@pytest.mark.rate(1.0, 3.0)
async def test_over_the_rate_answers_429_with_retry_after(gateway: Gateway) -> None:
    statuses = [(await gateway.publish()).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    limited = await gateway.publish()
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["type"].endswith("/rate-limited")
    assert len(gateway.producer.on(TOPIC)) == 3
    assert 'reason="rate_limited"' in await gateway.metrics()


@pytest.mark.rate(1.0, 3.0)
async def test_a_batch_takes_one_token_per_event(gateway: Gateway) -> None:
    events = [{"specversion": "1.0", "type": "t", "data": VALID} for _ in range(3)]
    assert (await gateway.batch(events)).status_code == 202
    assert (await gateway.publish()).status_code == 429


@pytest.mark.rate(1.0, 3.0)
async def test_a_batch_bigger_than_the_burst_waits_a_minute(gateway: Gateway) -> None:
    events = [{"specversion": "1.0", "type": "t", "data": VALID} for _ in range(4)]
    answer = await gateway.batch(events)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "60"
    assert gateway.producer.on(TOPIC) == []


@pytest.mark.rate(1.0, 1.0)
async def test_a_refused_key_does_not_spend_the_sources_tokens(gateway: Gateway) -> None:
    assert (await gateway.publish(key=gateway.keys.revoked)).status_code == 401
    assert (await gateway.publish()).status_code == 202
