"""Gateway throughput and latency against a plain aiokafka producer, same broker, same run.

    uv run python bench/gateway_bench.py [--seconds 15] [--connections 64] [--workers 1]
                                         [--growth-seconds S | --no-growth] [--json PATH]
                                         [--no-audit-cost]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), registers a source, starts the gateway
as its own process and drives it with `wrk` (apt-get install wrk) for single events (only 2xx
answers count: `wrk_load.py`) and with an async HTTP client for batches (only items answered
202 count). The raw baseline is an aiokafka producer built from the gateway's own producer
configuration (`lgsp_gateway.adapters.producer_options.gateway_producer_options`: acks=all,
idempotent, the same linger, 256 KiB batches, no compression), sending the same payloads with
the same CloudEvents headers and key at the same concurrency for the same number of seconds:
per-event round trips at `--connections`, and batches of `--batch-size` from 4 senders, each
batch awaited whole. Any failed request or record makes its figure invalid and the exit status 1.

The audit's cost: two fresh gateways, one as always and one with `LGSP_GATEWAY_AUDIT_WAIT=false`
(its records are still written, the answers do not wait for them; refused beyond loopback),
driven in alternating windows (`AUDIT_ROUNDS`, `--seconds` in all each) so that other work on
the machine weighs on both alike; the audited rate over the other must stay >= 0.9 (issue 13:
keep the gateway within 10% with every 2xx waiting for its audit record).

Growth (`growth.py`), on the load axis: single events/s and p99 at 1x, 2x and 4x
`--connections` (wrk connections), each factor followed by the raw producer at the same
concurrency (send_and_wait per event, same options, payloads, headers and window of
`--growth-seconds`, default `--seconds`), so the ratio at each factor is fair.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from figures import Figure, Target, finish, percentile
from gateway_bench_support import (
    EVENT_TYPE,
    PAYLOAD,
    prepare,
    start_gateway,
    summed,
    wrk_single,
)
from growth import Growth, Point, grow
from wrk_load import WrkResult

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import LocalKafka
from lgsp_gateway.adapters.producer_options import gateway_producer_options
from lgsp_gateway.settings import GatewaySettings

AUDIT_ROUNDS = 3  # alternating windows per gateway for the audit's cost


@dataclass
class Sends:
    """Events acknowledged, failures, and per-send latencies (ms) over one window."""

    events: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] | None = None
    reasons: Counter[str] = field(default_factory=Counter)  # what the failures were

    @property
    def rate(self) -> float:
        """Return acknowledged events per second."""
        return self.events / self.elapsed if self.elapsed else 0.0

    def p(self, share: float) -> float | None:
        """Return a latency percentile (ms), None without samples."""
        return percentile(self.latencies, share) if self.latencies else None


async def http_batches(url: str, topic: str, key: str, seconds: int, size: int) -> Sends:
    """Post batches of `size` structured events from 4 concurrent clients; count 202 items."""
    headers = {"content-type": "application/cloudevents-batch+json", "x-api-key": key}
    sends = Sends(latencies=[])

    async def client(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            batch = [
                {"specversion": "1.0", "id": str(uuid.uuid4()), "type": EVENT_TYPE, "data": PAYLOAD}
                for _ in range(size)
            ]
            started = time.perf_counter()
            try:
                response = await http.post(
                    f"{url}/v1/topics/{topic}/batches", content=json.dumps(batch), headers=headers
                )
                items = response.json()["items"] if response.status_code in (202, 207) else []
                if not items:
                    sends.reasons[f"HTTP {response.status_code}"] += 1
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                items = []
                sends.reasons[type(exc).__name__] += 1
            accepted = sum(1 for item in items if item.get("status") == 202)
            sends.reasons.update(
                f"item {item.get('status')}" for item in items if item.get("status") != 202
            )
            sends.events += accepted
            sends.errors += size - accepted
            sends.latencies.append((time.perf_counter() - started) * 1000)  # type: ignore[union-attr]

    async with httpx.AsyncClient(timeout=60) as http:
        started = time.monotonic()
        await asyncio.gather(*(client(http, started + seconds) for _ in range(4)))
        sends.elapsed = time.monotonic() - started
    return sends


def _event() -> CloudEvent:
    return CloudEvent(
        source="/sources/bench", type=EVENT_TYPE, data=PAYLOAD, subject=PAYLOAD["dossier_id"]
    )


def raw_producer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Return the baseline producer's options: the gateway's events producer's, own client id."""
    return gateway_producer_options(GatewaySettings(kafka=kafka), "events") | {
        "client_id": "bench-raw"
    }


async def raw_round_trips(
    kafka: KafkaSettings, topic: str, seconds: int, concurrency: int
) -> Sends:
    """Baseline of single events: send_and_wait per event at the same concurrency."""
    producer = AIOKafkaProducer(**raw_producer_options(kafka))
    await producer.start()
    sends = Sends(latencies=[])

    async def worker(deadline: float) -> None:
        while time.monotonic() < deadline:
            record = to_kafka(_event(), PAYLOAD["dossier_id"])
            started = time.perf_counter()
            try:
                await producer.send_and_wait(
                    topic, record.value, key=record.key, headers=record.headers
                )
            except Exception as exc:
                sends.errors += 1
                sends.reasons[type(exc).__name__] += 1
                continue
            sends.events += 1
            sends.latencies.append((time.perf_counter() - started) * 1000)  # type: ignore[union-attr]

    try:
        started = time.monotonic()
        await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
        sends.elapsed = time.monotonic() - started
    finally:
        await producer.stop()
    return sends


async def raw_batches(kafka: KafkaSettings, topic: str, seconds: int, size: int) -> Sends:
    """Baseline of batches: 4 senders, each sends `size` events and awaits them all, again."""
    producer = AIOKafkaProducer(**raw_producer_options(kafka))
    await producer.start()
    sends = Sends(latencies=[])

    async def sender(deadline: float) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            futures = []
            for _ in range(size):
                record = to_kafka(_event(), PAYLOAD["dossier_id"])
                futures.append(
                    await producer.send(topic, record.value, key=record.key, headers=record.headers)
                )
            done = await asyncio.gather(*futures, return_exceptions=True)
            errors = [type(r).__name__ for r in done if isinstance(r, BaseException)]
            sends.reasons.update(errors)
            failed = len(errors)
            sends.events += size - failed
            sends.errors += failed
            sends.latencies.append((time.perf_counter() - started) * 1000)  # type: ignore[union-attr]

    try:
        started = time.monotonic()
        await asyncio.gather(*(sender(started + seconds) for _ in range(4)))
        sends.elapsed = time.monotonic() - started
    finally:
        await producer.stop()
    return sends


def figures(
    single: WrkResult,
    raw: Sends,
    batch: Sends,
    bulk: Sends,
    connections: int,
    size: int,
    cost_runs: tuple[WrkResult, WrkResult] | None = None,
) -> list[Figure]:
    """Return the bench's figures, each with its baseline from the same run; `cost_runs`
    (audited, not awaited: alternating windows of two fresh gateways) give the audit's cost."""
    cost = []
    if cost_runs is not None:
        audited, unwaited = cost_runs
        cost = [
            Figure(
                "audit's cost: single events/s, audit acked vs not awaited", audited.rate,
                "req/s", unwaited.rate, "same gateway, AUDIT_WAIT=false, alternating windows",
                Target(">=", 0.9, "ratio"), audited.errors + unwaited.errors,
            )
        ]  # fmt: skip
    return [
        *cost,
        Figure(
            f"single events/s ({connections} connections)", single.rate, "req/s",
            raw.rate, "raw producer, send_and_wait", Target(">=", 5000),
            single.errors + raw.errors,
        ),
        Figure(
            "single p50 latency", single.p50_ms, "ms", raw.p(0.5), "raw producer", None,
            single.errors + raw.errors,
        ),
        Figure(
            "single p99 latency", single.p99_ms, "ms", raw.p(0.99), "raw producer",
            Target("<", 50), single.errors + raw.errors,
        ),
        Figure(
            f"batch events/s ({size} per request, 4 senders)", batch.rate, "events/s",
            bulk.rate, "raw producer, same batches", Target(">=", 0.5, "ratio"),
            batch.errors + bulk.errors, _reasons(batch, bulk),
        ),
    ]  # fmt: skip


def single_growth(
    kafka: KafkaSettings, url: str, topics: tuple[str, str], key: str, seconds: int, base: int
) -> Growth:
    """Single events/s and p99 at 1x, 2x, 4x `base` connections, the raw producer at each."""
    topic, raw_topic = topics

    def point(connections: int) -> Point:
        single = wrk_single(url, topic, key, seconds, connections)
        raw = asyncio.run(raw_round_trips(kafka, raw_topic, seconds, connections))
        return Point(single.rate, single.p99_ms, raw.rate, raw.p(0.99), single.errors + raw.errors,
                     _reasons(raw))  # fmt: skip

    return grow("single events/s", "req/s", "load", "connections", base, point,
                "raw producer, send_and_wait")  # fmt: skip


def audit_cost(
    kafka: KafkaSettings, run: str, source: tuple[str, str, str], args: argparse.Namespace
) -> tuple[WrkResult, WrkResult]:
    """Drive single events at two fresh gateways, one waiting for its audit records and one
    not, in alternating windows (`AUDIT_ROUNDS` each, `--seconds` in all per gateway), so that
    other work on the machine weighs on both alike; return (audited, not awaited), summed."""
    topic, registry, key = source
    rounds, seconds = AUDIT_ROUNDS, max(1, round(args.seconds / AUDIT_ROUNDS))
    print(f"» the audit's cost: {rounds} alternating windows of {seconds}s, audited / not awaited")
    audited = start_gateway(kafka, run, registry, args.workers)
    unwaited = start_gateway(kafka, run, registry, args.workers, LGSP_GATEWAY_AUDIT_WAIT="false")
    found: tuple[list[WrkResult], list[WrkResult]] = ([], [])
    try:
        for _ in range(rounds):
            for (_, url), results in zip((audited, unwaited), found, strict=True):
                results.append(wrk_single(url, topic, key, seconds, args.connections))
    finally:
        for process, _ in (audited, unwaited):
            process.terminate()
            process.wait(30)
    return summed(found[0]), summed(found[1])


def _reasons(*runs: Sends) -> str:
    """Return what failed, e.g. `item 503 x2` (empty when nothing did)."""
    found: Counter[str] = Counter()
    for run in runs:
        found.update(run.reasons)
    return ", ".join(f"{reason} x{n}" for reason, n in found.most_common(5))


def main() -> None:
    """Run every measurement, print the table, exit 1 if a figure is invalid."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--growth-seconds", type=int, help="per growth point (default --seconds)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    parser.add_argument(
        "--audit-cost", action=argparse.BooleanOptionalAction, default=True,
        help="also run the gateway answering without waiting for its audit records (the cost)",
    )  # fmt: skip
    args = parser.parse_args()
    cluster = None
    growth: list[Growth] = []
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = cluster.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    run = uuid.uuid4().hex[:8]
    try:
        topic, registry, key = asyncio.run(prepare(kafka, run))
        gateway, url = start_gateway(kafka, run, registry, args.workers)
        try:
            print(f"» gateway single events, wrk {args.connections} connections, {args.seconds}s")
            single = wrk_single(url, topic, key, args.seconds, args.connections)
            print(f"» gateway batches of {args.batch_size}, {args.seconds}s")
            batch = asyncio.run(http_batches(url, topic, key, args.seconds, args.batch_size))
            if args.growth:
                topics, seconds = (topic, f"bench.raw-{run}"), args.growth_seconds or args.seconds
                growth.append(single_growth(kafka, url, topics, key, seconds, args.connections))
        finally:
            gateway.terminate()
            gateway.wait(30)
        cost_runs = (
            audit_cost(kafka, run, (topic, registry, key), args) if args.audit_cost else None
        )
        print("» raw aiokafka producer (the gateway's options), same payloads, headers, window")
        raw_topic = f"bench.raw-{run}"
        raw = asyncio.run(raw_round_trips(kafka, raw_topic, args.seconds, args.connections))
        bulk = asyncio.run(raw_batches(kafka, raw_topic, args.seconds, args.batch_size))
    finally:
        if cluster:
            cluster.stop()
    found = figures(single, raw, batch, bulk, args.connections, args.batch_size, cost_runs)
    sys.exit(finish("gateway", found, args.json, growth))


if __name__ == "__main__":
    main()
