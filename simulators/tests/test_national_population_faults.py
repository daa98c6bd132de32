"""The upstream's fault injector: latency added, failures at the configured rate, counted."""

from __future__ import annotations

import random
import time

from lgsp_simulators.national_population.faults import FaultInjector, Faults


async def test_no_faults_by_default() -> None:
    injector = FaultInjector(Faults(), random.Random(1))
    assert [await injector.apply() for _ in range(20)] == [False] * 20
    assert injector.report().requests == 20


async def test_latency_is_waited() -> None:
    injector = FaultInjector(Faults(latency_ms=50, latency_jitter_ms=10), random.Random(1))
    started = time.perf_counter()
    await injector.apply()
    assert 0.05 <= time.perf_counter() - started < 0.5


async def test_failure_rate_is_applied_and_counted() -> None:
    injector = FaultInjector(Faults(failure_rate=0.5), random.Random(7))
    failures = sum([await injector.apply() for _ in range(400)])
    assert 150 < failures < 250
    report = injector.report()
    assert (report.requests, report.failures_injected) == (400, failures)
    injector.faults = Faults(failure_rate=1.0)
    assert await injector.apply() is True
