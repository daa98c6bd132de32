"""Collector throughput against a plain aiokafka consumer, and end-to-end KPI freshness.

    uv run python bench/collector_bench.py [--events 60000] [--rounds 2] [--rate 1000]
                                           [--seconds 20]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS).

Throughput: pre-fills a 3-partition topic with valid dossier events, reads them all with a plain
group-less aiokafka consumer (read_committed, getmany), then lets one collector process
(`python -m ioc_collector`, the repository's dossier KPIs, contract validation, state committed
with positions) aggregate the same records from the beginning, with the same records per poll
(2000); prints events/s of both and the ratio (target >= 0.5), per wall-clock and per CPU
second. Both rates leave out what was read before the clock started (the plain consumer's first
batch; what the collector had applied when its count was first seen); the collector's is the
slope between samples of its count (every 100 ms through its API), so polling neither costs it
much nor lags its end. The two take turns `--rounds` times (a new collector each time: own
group, own store) and the faster run of each counts: the machine may be shared.

Freshness: starts the gateway and a collector as processes, publishes batches of structured
CloudEvents at a steady `--rate` events/s; every 100 ms one event of a batch is a probe counted
by a bench KPI; the time from the batch's 202 to the moment the collector's API shows that probe
is the freshness; prints p50 and p99 (target p99 < 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from collector_bench_support import (
    DOSSIER_SUBMITTED,
    SCHEMA,
    Rate,
    Sample,
    collector_env,
    dossier,
    plain_consumer,
    prefill,
    sample,
    start_process,
    write_config,
)

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes


async def collector_throughput(
    kafka: KafkaSettings, root: Path, topic: str, count: int, name: str
) -> Rate:
    """Return the rate at which one collector process aggregates the pre-filled topic.

    The rate is the slope between the first sample showing events and the last one short of
    the total: polls every 100 ms (each costs the collector an HTTP request) and no lag in
    seeing the end.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = collector_env(kafka, root, topic, name) | {"IOC_COLLECTOR_PORT": str(port)}
    process = start_process("ioc_collector", env, url, root / f"{name}.log")
    try:
        async with httpx.AsyncClient() as http:
            running: list[Sample] = []
            while (now := await sample(http, url, process.pid)).events < count:
                if now.events:
                    running.append(now)
                await asyncio.sleep(0.1)
        if len(running) < 2:
            raise RuntimeError("too few samples to measure a rate: pre-fill more --events")
        first, last = running[0], running[-1]
        done = last.events - first.events
        return Rate(done / (last.at - first.at), done / (last.cpu_s - first.cpu_s))
    finally:
        process.terminate()
        process.wait(30)


async def register(kafka: KafkaSettings, topic: str) -> str:
    """Register the bench source, the contract and a key for the gateway; return the key."""
    key_id, key = new_api_key()
    await publish_registry_changes(kafka, f"{topic}.registry", [
        ("source", "bench", {"id": "bench", "topic": topic, "status": "active",
                             "cadence": "realtime", "organisation_id": "bench"}),
        ("contract", f"c-{topic}", {"id": f"c-{topic}", "subject": topic, "version": 1,
                                    "schema": SCHEMA}),
        ("api_key", key_id, {"id": key_id, "source_id": "bench", "key_hash": hash_api_key(key)}),
    ])  # fmt: skip
    return key


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Freshness:
    """Drives the gateway at a steady rate and times each probe until the API shows it."""

    def __init__(self, gateway: str, collector: str, topic: str, key: str, rate: int) -> None:
        self.gateway, self.collector, self.topic, self.key = gateway, collector, topic, key
        self.batch = max(1, rate // 50)  # 50 requests per second
        self.acked: dict[int, float] = {}
        self.samples: list[float] = []
        self.sent = 0
        self.rng = random.Random(2)

    async def send(self, http: httpx.AsyncClient, seconds: float, probes: bool) -> None:
        """Send one batch every 20 ms; every fifth batch carries a probe."""
        start = time.perf_counter()
        tick = 0
        while (now := time.perf_counter()) - start < seconds:
            probe = len(self.acked) if probes and tick % 5 == 0 else None
            asyncio.get_running_loop().create_task(self._post(http, tick, probe))
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.02 - now))

    async def _post(self, http: httpx.AsyncClient, tick: int, probe: int | None) -> None:
        events = [self._event(tick * 1000 + i, "1.001612") for i in range(self.batch)]
        if probe is not None:
            self.acked[probe] = 0.0
            events[0] = self._event(tick * 1000, "PROBE")
        answer = await http.post(
            f"{self.gateway}/v1/topics/{self.topic}/batches", content=json.dumps(events),
            headers={"content-type": "application/cloudevents-batch+json", "x-api-key": self.key},
        )  # fmt: skip
        if answer.status_code != 202:
            raise RuntimeError(f"gateway answered {answer.status_code}: {answer.text[:300]}")
        self.sent += len(events)
        if probe is not None:
            self.acked[probe] = time.perf_counter()

    def _event(self, n: int, procedure: str) -> dict[str, Any]:
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": DOSSIER_SUBMITTED,
                "data": dossier(n, self.rng, procedure)}  # fmt: skip

    async def watch(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Poll the probe KPI every 10 ms; a probe is visible once the count passes it."""
        shown = 0
        while not stop.is_set() or shown < len(self.acked):
            body = (await http.get(f"{self.collector}/v1/kpis/bench-probes/series")).json()
            count = int(sum((p["value"] or 0) for p in body["points"]))
            now = time.perf_counter()
            for probe in range(shown, count):
                acked = self.acked.get(probe) or now  # shown before its 202 came back: 0
                self.samples.append(max(0.0, now - acked))
            shown = max(shown, count)
            await asyncio.sleep(0.01)


async def freshness(
    kafka: KafkaSettings, root: Path, topic: str, rate: int, seconds: float
) -> tuple[Freshness, float]:
    """Run gateway + collector processes and measure probe freshness at a steady rate."""
    key = await register(kafka, topic)
    gw_port, ioc_port = free_port(), free_port()
    gateway_env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "LGSP_GATEWAY_PORT": str(gw_port),
        "LGSP_GATEWAY_REGISTRY_TOPIC": f"{topic}.registry", "LGSP_GATEWAY_LOG_LEVEL": "WARNING",
        "LGSP_GATEWAY_DLQ_TOPIC": f"{topic}.dlq", "LGSP_GATEWAY_AUDIT_TOPIC": f"{topic}.audit",
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000", "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_MAX_BATCH_EVENTS": "1000",
    }  # fmt: skip
    gateway_url, collector_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{ioc_port}"
    env = collector_env(kafka, root, topic, "freshness") | {"IOC_COLLECTOR_PORT": str(ioc_port)}
    processes = [
        start_process("lgsp_gateway", gateway_env, gateway_url, root / "gateway.log"),
        start_process("ioc_collector", env, collector_url, root / "freshness.log"),
    ]
    try:
        await asyncio.sleep(3)  # the collector joins its group
        run = Freshness(gateway_url, collector_url, topic, key, rate)
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await run.send(http, 3, probes=False)  # warm-up
            stop = asyncio.Event()
            watcher = asyncio.create_task(run.watch(http, stop))
            sent_before, started = run.sent, time.perf_counter()
            await run.send(http, seconds, probes=True)
            achieved = (run.sent - sent_before) / (time.perf_counter() - started)
            stop.set()
            await asyncio.wait_for(watcher, 60)
        return run, achieved
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)


async def throughput(
    kafka: KafkaSettings, root: Path, topic: str, events: int, rounds: int
) -> tuple[Rate, Rate]:
    """Run the plain consumer and a new collector (own group, own store) in turns; return the
    faster run of each (the machine may be shared: both sides get the same chances)."""
    plain: list[Rate] = []
    ours: list[Rate] = []
    for round_ in range(rounds):
        plain.append(await plain_consumer(kafka, topic, events))
        ours.append(await collector_throughput(kafka, root, topic, events, f"throughput-{round_}"))
    return max(plain, key=lambda r: r.wall), max(ours, key=lambda r: r.wall)


async def bench(kafka: KafkaSettings, events: int, rate: int, seconds: float, rounds: int) -> None:
    """Run both measurements and print the figures."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.tthc-{run}.v1", f"bench.fresh-{run}.v1"]
    specs = [TopicSpec(t, 3) for t in topics]
    specs += [TopicSpec(f"{t}.{s}", 1 if s == "registry" else 3,
                        config={"cleanup.policy": "compact"} if s in {"registry", "kpi"} else {})
              for t in topics for s in ("registry", "dlq", "kpi", "audit")]  # fmt: skip
    specs += [TopicSpec(f"{t}.audit.checkpoints", 1, config={"cleanup.policy": "compact"})
              for t in topics]  # fmt: skip
    await ensure_topics(kafka, specs)
    root = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    write_config(root, topics)
    await prefill(kafka, topics[0], events)
    plain, ours = await throughput(kafka, root, topics[0], events, rounds)
    kpis = len(list((root / "kpis").glob("*-0.yaml")))
    print(f"throughput, {events} pre-filled events (3 partitions, {kpis} KPIs, contract checked)")
    print("                            events/s   events/CPU-s")
    print(f"  plain aiokafka consumer : {plain.wall:10.0f}   {plain.cpu:10.0f}")
    print(f"  ioc-collector process   : {ours.wall:10.0f}   {ours.cpu:10.0f}")
    print(
        f"  ratio (target >= 0.5)   : {ours.wall / plain.wall:10.2f}   {ours.cpu / plain.cpu:10.2f}"
    )
    result, achieved = await freshness(kafka, root, topics[1], rate, seconds)
    samples = result.samples
    print(f"freshness: gateway 202 -> KPI on the API, {achieved:.0f} events/s for {seconds:.0f} s")
    print(f"  probes : {len(samples)}")
    print(f"  p50    : {percentile(samples, 0.5) * 1000:8.1f} ms")
    print(f"  p99    : {percentile(samples, 0.99) * 1000:8.1f} ms   (target < 1000 ms)")
    print(f"  mean   : {statistics.fmean(samples) * 1000:8.1f} ms; logs in {root}")


def main() -> None:
    """Parse arguments, start Kafka if needed, run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="throughput runs of each side")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    cluster = None
    if not bootstrap:
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = cluster.start()
    try:
        asyncio.run(bench(KafkaSettings(bootstrap_servers=bootstrap), args.events, args.rate,
                          args.seconds, args.rounds))  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
