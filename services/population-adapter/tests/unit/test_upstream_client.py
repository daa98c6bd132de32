"""The resilient upstream client: cache within TTL only, retries, breaker, deadline, bounds."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_vn.citizen import Citizen
from population_adapter.adapters.upstream import (
    CitizenSource,
    ResiliencePolicy,
    UpstreamUnavailableError,
)
from population_adapter.metrics import AdapterMetrics

CITIZENS = {c.cccd: c for c in generate_citizens(6, 20)}


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeUpstream:
    """Answers like the upstream; `status` forces an error answer; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.status: int | None = None
        self.fail_next = 0
        self.delay_s = 0.0
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/citizens/lookup"  # the id never travels in the URL
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return httpx.Response(503, json={"title": "failing"})
        if self.status is not None:
            return httpx.Response(self.status, json={"title": "failing"})
        citizen = CITIZENS.get(json.loads(request.content)["cccd"])
        if citizen is None:
            return httpx.Response(404, json={"title": "No such citizen"})
        return httpx.Response(200, content=citizen.model_dump_json())


def _source(
    upstream: FakeUpstream, clock: Clock, **policy: float
) -> tuple[CitizenSource, CollectorRegistry]:
    registry = CollectorRegistry()
    defaults: dict[str, float] = {
        "backoff_s": 0.001,
        "backoff_max_s": 0.002,
        "cache_ttl_s": 10.0,
        "deadline_s": 2.0,
    }
    client = httpx.AsyncClient(transport=httpx.MockTransport(upstream), base_url="http://up")
    source = CitizenSource(
        client,
        ResiliencePolicy(**{**defaults, **policy}),
        AdapterMetrics.create(registry),
        TracerProvider().get_tracer("test"),
        clock,
    )
    return source, registry


def _value(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(name) or 0.0


def _someone() -> Citizen:
    return next(iter(CITIZENS.values()))


async def test_cache_serves_within_ttl_and_never_after() -> None:
    upstream, clock = FakeUpstream(), Clock()
    source, registry = _source(upstream, clock, attempts=1)
    citizen = _someone()
    assert (await source.fetch(citizen.cccd)).cached is False
    upstream.status = 503  # the upstream goes down
    clock.now += 9.9
    fetched = await source.fetch(citizen.cccd)
    assert fetched.cached is True
    assert fetched.citizen == citizen
    clock.now += 0.2  # past the TTL
    with pytest.raises(UpstreamUnavailableError):
        await source.fetch(citizen.cccd)
    assert upstream.calls == 2
    assert _value(registry, "population_cache_hits_total") == 1
    assert _value(registry, "population_cache_misses_total") == 2


async def test_unknown_citizen_is_none_and_not_cached() -> None:
    upstream = FakeUpstream()
    source, _ = _source(upstream, Clock())
    assert (await source.fetch("077000000000")).citizen is None
    assert (await source.fetch("077000000000")).citizen is None
    assert upstream.calls == 2
    assert source.breaker.state == 0


async def test_transient_failures_are_retried() -> None:
    upstream = FakeUpstream()
    upstream.fail_next = 2
    source, registry = _source(upstream, Clock(), attempts=3)
    fetched = await source.fetch(_someone().cccd)
    assert fetched.citizen == _someone()
    assert upstream.calls == 3
    assert _value(registry, "population_upstream_retries_total") == 2


async def test_retries_stop_after_the_last_attempt() -> None:
    upstream = FakeUpstream()
    upstream.fail_next = 3
    source, _ = _source(upstream, Clock(), attempts=3)
    with pytest.raises(UpstreamUnavailableError):
        await source.fetch(_someone().cccd)
    assert upstream.calls == 3


async def test_breaker_opens_then_fails_fast_without_calling() -> None:
    upstream, clock = FakeUpstream(), Clock()
    source, registry = _source(upstream, clock, attempts=1, breaker_threshold=2)
    upstream.status = 500
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError) as caught:
            await source.fetch(_someone().cccd)
        assert caught.value.reason == "upstream_error"
    with pytest.raises(UpstreamUnavailableError) as caught:
        await source.fetch(_someone().cccd)
    assert caught.value.reason == "circuit_open"
    assert upstream.calls == 2
    assert _value(registry, "population_upstream_breaker_state") == 1
    upstream.status = None
    clock.now += 10.01  # the breaker's reset period: the next call is the probe
    assert (await source.fetch(_someone().cccd)).citizen == _someone()
    assert _value(registry, "population_upstream_breaker_state") == 0


async def test_deadline_bounds_a_slow_upstream() -> None:
    upstream = FakeUpstream()
    upstream.delay_s = 2.0
    source, _ = _source(upstream, Clock(), deadline_s=0.1)
    started = time.perf_counter()
    with pytest.raises(UpstreamUnavailableError) as caught:
        await source.fetch(_someone().cccd)
    assert caught.value.reason == "deadline"
    assert time.perf_counter() - started < 0.5


async def test_concurrency_is_bounded() -> None:
    upstream = FakeUpstream()
    upstream.delay_s = 0.02
    source, registry = _source(upstream, Clock(), max_concurrency=2)
    await asyncio.gather(*(source.fetch(cccd) for cccd in CITIZENS))
    assert upstream.calls == len(CITIZENS)
    assert upstream.most_in_flight == 2
    assert _value(registry, "population_upstream_in_flight") == 0
