"""Exactly-once effect of the collector against the real broker: SIGKILLs and a rebalance.

A known stream (with duplicates and late events) is written while collector processes
(`python -m ioc_collector`) are killed with SIGKILL at random points and restarted. The final KPIs
must equal what the test computes from the same stream with plain Python: per partition, a
watermark that is the largest event time seen; an event is late when its hour window ended more
than the allowed lateness before that watermark; a repeated event id is counted once.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time

import httpx
import pytest
from collector_stream_support import (  # noqa: F401 - fixtures
    Collector,
    Setup,
    as_expected,
    collector_store_url,
    collectors,
    consumed,
    expected_kpis,
    known_stream,
    log_tail,
    postgres_server,
    produce,
    setup,
    wait_for_figures,
)

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.viewers import VIEWER_HEADERS

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def kill_while_consuming(
    http: httpx.AsyncClient, collector: Collector, rng: random.Random
) -> None:
    """Wait until the collector makes progress, let it run a random moment, then SIGKILL it."""
    deadline = time.monotonic() + 60
    first = await consumed(http, collector)
    while await consumed(http, collector) <= first:
        assert collector.process.poll() is None, collector.log.read_text()[-3000:]
        assert time.monotonic() < deadline, "collector made no progress"
        await asyncio.sleep(0.1)
    await asyncio.sleep(rng.uniform(0.0, 1.5))
    collector.kill()


async def test_sigkill_five_times_gives_the_uninterrupted_figures(
    setup: Setup,  # noqa: F811 - the fixture
    kafka_settings: KafkaSettings,
) -> None:
    rng = random.Random(5)
    stream = known_stream(seed=11, count=3000)
    wanted = as_expected(expected_kpis(stream), stream)
    assert wanted["late"] > 20 and wanted["duplicates"] > 20  # the stream exercises both rules
    async with collectors(setup) as started, httpx.AsyncClient(headers=VIEWER_HEADERS) as http:
        producing = asyncio.create_task(produce(kafka_settings, setup.topic, stream, 50))
        for n in range(5):
            started.append(Collector(setup, f"c{n}"))
            await kill_while_consuming(http, started[-1], rng)
        started.append(Collector(setup, "final"))
        await producing
        try:
            await wait_for_figures(http, [started[-1].url], wanted, timeout_s=90)
        except AssertionError as exc:
            raise AssertionError("\n".join([str(exc), *log_tail(started)])) from exc
    assert all(c.process.returncode == -signal.SIGKILL for c in started[:5])


async def test_two_instances_with_rebalances_and_kills_give_the_same_figures(
    setup: Setup,  # noqa: F811 - the fixture
    kafka_settings: KafkaSettings,
) -> None:
    rng = random.Random(7)
    stream = known_stream(seed=23, count=3000)
    wanted = as_expected(expected_kpis(stream), stream)
    async with collectors(setup) as started, httpx.AsyncClient(headers=VIEWER_HEADERS) as http:
        a, b = Collector(setup, "a0"), Collector(setup, "b0")
        started += [a, b]
        producing = asyncio.create_task(produce(kafka_settings, setup.topic, stream, 50))
        await kill_while_consuming(http, a, rng)  # b takes every partition over
        a = Collector(setup, "a1")  # the group rebalances again, partitions move back
        started.append(a)
        await kill_while_consuming(http, b, rng)
        b = Collector(setup, "b1")
        started.append(b)
        await producing
        try:
            await wait_for_figures(http, [a.url, b.url], wanted, timeout_s=90)
        except AssertionError as exc:
            raise AssertionError("\n".join([str(exc), *log_tail(started)])) from exc
    assert started[0].process.returncode == -signal.SIGKILL
