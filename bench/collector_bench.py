"""Collector throughput against a plain aiokafka consumer, and end-to-end KPI freshness.

    uv run python bench/collector_bench.py [--events 60000] [--rounds 2] [--rate 1000]
                                           [--seconds 20] [--growth-events N | --no-growth]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS).

Throughput: pre-fills a 3-partition topic with valid dossier events, reads them all with a plain
group-less aiokafka consumer built from the collector's own consumer options
(`collector_bench_support.plain_consumer_options`: read_committed, the same fetch sizes), then
lets one collector process (`python -m ioc_collector`, the repository's dossier KPIs, contract
validation, state committed with positions) aggregate the same records from the beginning, with
the same records per poll (2000); prints events/s of both and the ratio (target >= 0.6), per
wall-clock and per CPU second. Both rates use the same window: from the first records seen
(the plain consumer's first batch; the collector's first count above zero through its API,
sampled every 50 ms) to the moment all of them are seen, tail included. The two take turns
`--rounds` times (a new collector each time: own group, own store) and the faster run of each
counts: the machine may be shared.

Freshness: starts the gateway and a collector as processes, publishes batches of structured
CloudEvents at a steady `--rate` events/s (every POST awaited; any answer but 202 is an error
and invalidates the figure); every 100 ms one event of a batch is a probe counted by a bench
KPI; the time from the moment the probe's request is sent to the moment the collector's API
shows it is the freshness (a probe may show before its 202 comes back: it is timed from its
send all the same); prints p50 and p99 (target p99 < 100 ms at 3,000 events/s).

Growth (`growth.py`), on the data size axis: a second topic pre-filled with 4x
`--growth-events` (default `--events`) events; at 1x, 2x and 4x the plain consumer reads that
many from the beginning, then a new collector (own group, own store) aggregates as many, both
timed over the same window as above (one round each): events/s as the open windows' state
grows, against the plain consumer at the same size.

`--json PATH` writes the figures for `run_all.py`; the exit status is 1 if any is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from collector_bench_support import (
    AUTH,
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
    viewer_change,
    window_rate,
    write_config,
)
from figures import Figure, Target, finish, invalid, percentile
from growth import Growth, Point, agrow

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes


async def collector_throughput(
    kafka: KafkaSettings, root: Path, topic: str, count: int, name: str
) -> Rate:
    """Return the rate at which one collector process aggregates the pre-filled topic.

    The window is the plain consumer's: from the first sample showing events to the first one
    showing all `count` (samples every 50 ms, each an HTTP request to the collector).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = collector_env(kafka, root, topic, name) | {"IOC_COLLECTOR_PORT": str(port)}
    process = start_process("ioc_collector", env, url, root / f"{name}.log")
    try:
        async with httpx.AsyncClient() as http:
            first: Sample | None = None
            while (now := await sample(http, url, process.pid)).events < count:
                if now.events and first is None:
                    first = now
                await asyncio.sleep(0.05)
        if first is None:
            raise RuntimeError("too few samples to measure a rate: pre-fill more --events")
        return window_rate(first, now)
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
        viewer_change(),
    ])  # fmt: skip
    return key


class Freshness:
    """Drives the gateway at a steady rate and times each probe from its send to the API."""

    def __init__(self, gateway: str, collector: str, topic: str, key: str, rate: int) -> None:
        self.gateway, self.collector, self.topic, self.key = gateway, collector, topic, key
        self.batch = max(1, rate // 50)  # 50 requests per second
        self.sent_at: dict[int, float] = {}  # probe number -> when its request was sent
        self.acked: dict[int, float] = {}  # probe number -> its 202 (0.0: none, or failed)
        self.samples: list[float] = []
        self.sent = 0  # events answered 202
        self.errors = 0  # requests not answered 202 (each invalidates the figure)
        self.unseen = 0  # probes answered 202 that the API never showed
        self.rng = random.Random(2)
        self._posts: set[asyncio.Task[None]] = set()

    async def send(self, http: httpx.AsyncClient, seconds: float, probes: bool) -> None:
        """Send one batch every 20 ms, every fifth with a probe; return once all are answered."""
        start = time.perf_counter()
        tick = 0
        while (now := time.perf_counter()) - start < seconds:
            probe = len(self.acked) if probes and tick % 5 == 0 else None
            if probe is not None:
                self.acked[probe] = 0.0
            task = asyncio.get_running_loop().create_task(self._post(http, tick, probe))
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.02 - now))
        await asyncio.gather(*self._posts)

    async def _post(self, http: httpx.AsyncClient, tick: int, probe: int | None) -> None:
        events = [self._event(tick * 1000 + i, "1.001612") for i in range(self.batch)]
        if probe is not None:
            events[0] = self._event(tick * 1000, "PROBE")
            self.sent_at[probe] = time.perf_counter()
        try:
            answer = await http.post(
                f"{self.gateway}/v1/topics/{self.topic}/batches", content=json.dumps(events),
                headers={"content-type": "application/cloudevents-batch+json",
                         "x-api-key": self.key},
            )  # fmt: skip
        except httpx.HTTPError:
            self.errors += 1
            return
        if answer.status_code != 202:
            self.errors += 1
            return
        self.sent += len(events)
        if probe is not None:
            self.acked[probe] = time.perf_counter()

    def _event(self, n: int, procedure: str) -> dict[str, Any]:
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": DOSSIER_SUBMITTED,
                "data": dossier(n, self.rng, procedure)}  # fmt: skip

    async def watch(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Poll the probe KPI every 10 ms; a probe is visible once the count passes it.

        After `stop`, waits up to 30 s for the probes answered 202; those never shown count
        in `unseen` (an error of the figure).
        """
        shown, deadline = 0, None
        while True:
            expected = sum(1 for at in self.acked.values() if at)
            if stop.is_set():
                deadline = deadline or time.monotonic() + 30
                if shown >= expected or time.monotonic() > deadline:
                    self.unseen = max(0, expected - shown)
                    return
            series = f"{self.collector}/v1/kpis/bench-probes/series"
            body = (await http.get(series, headers=AUTH)).json()
            count = int(sum((p["value"] or 0) for p in body["points"]))
            now = time.perf_counter()
            for probe in range(shown, count):
                sent = self.sent_at.get(probe)
                if sent is not None:
                    self.samples.append(now - sent)
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
            await watcher
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


async def throughput_growth(kafka: KafkaSettings, root: Path, topic: str, base: int) -> Growth:
    """Collector events/s reading 1x, 2x, 4x `base` events, the plain consumer at each size."""

    async def point(events: int) -> Point:
        plain = await plain_consumer(kafka, topic, events)
        ours = await collector_throughput(kafka, root, topic, events, f"growth-{events}")
        return Point(ours.wall, baseline=plain.wall)

    return await agrow("collector events/s (wall clock)", "events/s", "data size", "events",
                       base, point, "plain aiokafka consumer")  # fmt: skip


async def bench(
    kafka: KafkaSettings, events: int, rate: int, seconds: float, rounds: int, growth: int
) -> tuple[list[Figure], list[Growth]]:
    """Run both measurements (and the growth, unless `growth` is 0); return the figures."""
    run = uuid.uuid4().hex[:8]
    # The freshness topic is the last one (the probe KPI's, `write_config`).
    topics = [f"bench.tthc-{run}.v1", f"bench.grow-{run}.v1", f"bench.fresh-{run}.v1"]
    specs = [TopicSpec(t, 3) for t in topics]
    specs += [TopicSpec(f"{t}.{s}", 1 if s == "registry" else 3,
                        config={"cleanup.policy": "compact"} if s in {"registry", "kpi"} else {})
              for t in topics for s in ("registry", "dlq", "kpi", "audit")]  # fmt: skip
    specs += [TopicSpec(f"{t}.audit.checkpoints", 1, config={"cleanup.policy": "compact"})
              for t in topics]  # fmt: skip
    await ensure_topics(kafka, specs)
    root = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    write_config(root, topics)
    print(f"» pre-filling {events} events; then plain consumer and collector, {rounds} rounds")
    await prefill(kafka, topics[0], events)
    await publish_registry_changes(kafka, f"{topics[0]}.registry", [viewer_change()])
    try:
        found = throughput_figures(*await throughput(kafka, root, topics[0], events, rounds))
    except Exception as exc:
        found = [invalid("collector events/s (wall clock)", "events/s", repr(exc),
                         Target(">=", 0.6, "ratio"))]  # fmt: skip
    curves = []
    if growth:
        print(f"» growth: pre-filling {4 * growth} events")
        await prefill(kafka, topics[1], 4 * growth)
        await publish_registry_changes(kafka, f"{topics[1]}.registry", [viewer_change()])
        curves.append(await throughput_growth(kafka, root, topics[1], growth))
    print(f"» freshness at {rate} events/s for {seconds:.0f} s (logs in {root})")
    try:
        result, achieved = await freshness(kafka, root, topics[-1], rate, seconds)
    except Exception as exc:
        found.append(invalid("freshness p99, send -> KPI on the API", "ms", repr(exc)))
        return found, curves
    return found + freshness_figures(result, achieved, rate), curves


def throughput_figures(plain: Rate, ours: Rate) -> list[Figure]:
    """Return the collector's rates against the plain consumer's (same window)."""
    return [
        Figure("collector events/s (wall clock)", ours.wall, "events/s", plain.wall,
               "plain aiokafka consumer", Target(">=", 0.6, "ratio")),
        Figure("collector events per CPU second", ours.cpu, "events/s", plain.cpu,
               "plain aiokafka consumer"),
    ]  # fmt: skip


def freshness_figures(result: Freshness, achieved: float, rate: int) -> list[Figure]:
    """Return freshness p50 / p99 (ms); any failed request or unseen probe invalidates them."""
    samples, errors = result.samples, result.errors + result.unseen
    note = f"{len(samples)} probes, {achieved:.0f} events/s sent, mean " + (
        f"{statistics.fmean(samples) * 1000:.1f} ms" if samples else "-"
    )
    p50 = percentile(samples, 0.5) * 1000 if samples else None
    p99 = percentile(samples, 0.99) * 1000 if samples else None
    return [
        Figure(f"freshness p50 at {rate}/s, send -> KPI on the API", p50, "ms", errors=errors),
        Figure(f"freshness p99 at {rate}/s, send -> KPI on the API", p99, "ms",
               target=Target("<", 100), errors=errors, note=note),
    ]  # fmt: skip


def main() -> None:
    """Parse arguments, start Kafka if needed, run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rate", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="throughput runs of each side")
    parser.add_argument("--growth-events", type=int, help="growth base (default --events)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    growth = (args.growth_events or args.events) if args.growth else 0
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    cluster = None
    if not bootstrap:
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = cluster.start()
    try:
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        found, curves = asyncio.run(
            bench(kafka, args.events, args.rate, args.seconds, args.rounds, growth)
        )
    finally:
        if cluster is not None:
            cluster.stop()
    sys.exit(finish("collector", found, args.json, curves))


if __name__ == "__main__":
    main()
