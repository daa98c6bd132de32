"""The collector bench: the plain consumer's options are the collector's, one window for both
rates, probes timed from their send (even when shown before their 202), failures counted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import collector_bench
import httpx
from collector_bench_support import MAX_BATCH, Sample, plain_consumer_options, window_rate

from ioc_collector.bootstrap import group_consumer_options
from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import KafkaSettings


def test_the_plain_consumer_has_every_option_of_the_collectors_stream_consumer() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    service = group_consumer_options(CollectorSettings(kafka=kafka, max_batch=MAX_BATCH))
    plain = plain_consumer_options(kafka)
    assert set(plain) == set(service)
    for name in service:  # field by field: only the group and the client id differ
        if name not in {"group_id", "client_id"}:
            assert plain[name] == service[name], name
    assert plain["group_id"] is None
    assert plain["isolation_level"] == "read_committed"


def test_both_rates_use_the_same_window_from_first_records_to_all_records() -> None:
    first, last = Sample(10.0, 2000, 1.0), Sample(14.0, 60_000, 3.0)
    rate = window_rate(first, last)
    assert rate.wall == 58_000 / 4.0
    assert rate.cpu == 58_000 / 2.0


def _routes(state: dict[str, Any]) -> httpx.MockTransport:
    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batches"):
            events = json.loads(request.content)
            if state["fail"]:
                return httpx.Response(503, json={"title": "down"})
            if any(e["data"]["procedure_code"] == "PROBE" for e in events):
                state["probes"] += 1  # visible on the API before the 202 goes back
                await asyncio.sleep(0.2)
            return httpx.Response(202, json={"items": []})
        return httpx.Response(200, json={"points": [{"value": state["probes"]}]})

    return httpx.MockTransport(handle)


async def test_a_probe_seen_before_its_202_is_timed_from_its_send() -> None:
    state = {"fail": False, "probes": 0}
    run = collector_bench.Freshness("http://gw", "http://ioc", "t", "k", 100)
    async with httpx.AsyncClient(transport=_routes(state)) as http:
        stop = asyncio.Event()
        watcher = asyncio.create_task(run.watch(http, stop))
        await run.send(http, 0.05, probes=True)  # returns once every POST is answered
        stop.set()
        await watcher
    assert run.errors == 0 and run.unseen == 0
    assert len(run.samples) == 1
    assert 0 < run.samples[0] < 0.2, "shown before the 202: timed from the send, not 0"
    figures = collector_bench.freshness_figures(run, 100.0, 100)
    assert all(f.valid for f in figures)


async def test_a_failed_post_is_counted_and_invalidates_the_freshness_figures() -> None:
    state = {"fail": True, "probes": 0}
    run = collector_bench.Freshness("http://gw", "http://ioc", "t", "k", 100)
    async with httpx.AsyncClient(transport=_routes(state)) as http:
        await run.send(http, 0.05, probes=True)
    assert run.errors >= 1 and run.sent == 0
    figures = collector_bench.freshness_figures(run, 0.0, 100)
    assert not any(f.valid for f in figures)
    assert figures[1].met is False


def test_the_throughput_ratio_is_against_the_plain_consumer() -> None:
    plain, ours = collector_bench.Rate(10_000.0, 20_000.0), collector_bench.Rate(7000.0, 9000.0)
    wall, cpu = collector_bench.throughput_figures(plain, ours)
    assert wall.ratio == 0.7 and wall.met
    assert cpu.ratio == 0.45
