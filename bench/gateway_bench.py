"""Gateway throughput and latency against a plain aiokafka producer, same broker, same run.

    uv run python bench/gateway_bench.py [--seconds 15] [--connections 32] [--workers 1]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), registers a source, starts the gateway
as its own process and drives it with `wrk` (apt-get install wrk) for single events and with an
async HTTP client for batches. The baseline sends the same payloads with the same CloudEvents
headers through a plain idempotent aiokafka producer with acks=all: per-event round trips at the
same concurrency, and bulk sends. Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from gateway_process import start_gateway_process

from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka
from lgsp_devkit.testing import new_api_key, publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())
EVENT_TYPE = f"vn.gov.lgsp.tthc.dossier.{PAYLOAD['status']}"  # the contract's eventType


async def prepare(kafka: KafkaSettings, run: str) -> tuple[str, str, str]:
    """Create the run's topics and register a source with its key; return topic, registry, key."""
    topic, registry = f"bench.tthc-{run}.v1", f"bench.registry-{run}"
    specs = [
        TopicSpec(topic, 3),
        TopicSpec(registry, 1, config={"cleanup.policy": "compact"}),
        TopicSpec(f"bench.dlq-{run}", 3),
        TopicSpec(f"bench.audit-{run}", 3),
        TopicSpec(f"bench.audit-{run}.checkpoints", 1, config={"cleanup.policy": "compact"}),
        TopicSpec(f"bench.raw-{run}", 3),
    ]
    await ensure_topics(kafka, specs)
    key_id, key = new_api_key()
    schema = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
    await publish_registry_changes(
        kafka,
        registry,
        [
            ("source", "bench", {"id": "bench", "topic": topic, "status": "active"}),
            (
                "contract",
                f"c-{run}",
                {"id": f"c-{run}", "subject": topic, "version": 1, "schema": schema},
            ),
            (
                "api_key",
                key_id,
                {"id": key_id, "source_id": "bench", "key_hash": hash_api_key(key)},
            ),
        ],
    )
    return topic, registry, key


def start_gateway(kafka: KafkaSettings, run: str, registry: str, workers: int) -> tuple[Any, str]:
    """Start the gateway process and wait until it is ready; return (process, base url)."""
    settings = {
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_DLQ_TOPIC": f"bench.dlq-{run}",
        "LGSP_GATEWAY_AUDIT_TOPIC": f"bench.audit-{run}",
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000",
        "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_WORKERS": str(workers),
    }
    return start_gateway_process(kafka, settings)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_single(url: str, topic: str, key: str, seconds: int, connections: int) -> dict[str, float]:
    """Drive single-event requests with wrk; return req/s, p50 and p99 (ms)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    body = json.dumps(PAYLOAD).replace("\\", "\\\\").replace("'", "\\'")
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        f'wrk.headers["ce-type"] = "{EVENT_TYPE}"\n'
        'wrk.headers["ce-specversion"] = "1.0"\n'
    )
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"{url}/v1/topics/{topic}/events",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if os.environ.get("BENCH_DEBUG"):
        print(out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


async def http_batches(url: str, topic: str, key: str, seconds: int, size: int) -> float:
    """Post batches of `size` structured events from 4 concurrent clients; return events/s."""
    headers = {"content-type": "application/cloudevents-batch+json", "x-api-key": key}
    accepted = 0

    async def client(http: httpx.AsyncClient, deadline: float) -> None:
        nonlocal accepted
        while time.monotonic() < deadline:
            batch = [
                {"specversion": "1.0", "id": str(uuid.uuid4()), "type": EVENT_TYPE, "data": PAYLOAD}
                for _ in range(size)
            ]
            response = await http.post(
                f"{url}/v1/topics/{topic}/batches", content=json.dumps(batch), headers=headers
            )
            accepted += sum(1 for item in response.json()["items"] if item["status"] == 202)

    async with httpx.AsyncClient(timeout=60) as http:
        started = time.monotonic()
        await asyncio.gather(*(client(http, started + seconds) for _ in range(4)))
        return accepted / (time.monotonic() - started)


def _event() -> CloudEvent:
    return CloudEvent(
        source="/sources/bench", type=EVENT_TYPE, data=PAYLOAD, subject=PAYLOAD["dossier_id"]
    )


async def raw_round_trips(
    kafka: KafkaSettings, topic: str, seconds: int, concurrency: int
) -> dict[str, float]:
    """Baseline of single events: send_and_wait per event at the same concurrency."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    latencies: list[float] = []

    async def worker(deadline: float) -> None:
        while time.monotonic() < deadline:
            record = to_kafka(_event(), PAYLOAD["dossier_id"])
            started = time.perf_counter()
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        started = time.monotonic()
        await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    finally:
        await producer.stop()
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
    }


async def raw_bulk(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Baseline of bulk throughput: `count` events sent without waiting per event."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        started = time.monotonic()
        futures = []
        for _ in range(count):
            record = to_kafka(_event(), PAYLOAD["dossier_id"])
            futures.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*futures)
        return count / (time.monotonic() - started)
    finally:
        await producer.stop()


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    cluster = None
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
            print(f"» gateway batches of {args.batch_size}")
            batch = asyncio.run(http_batches(url, topic, key, args.seconds, args.batch_size))
        finally:
            gateway.terminate()
            gateway.wait(30)
        print("» raw aiokafka producer, same payloads and headers")
        raw = asyncio.run(
            raw_round_trips(kafka, f"bench.raw-{run}", args.seconds, args.connections)
        )
        bulk = asyncio.run(raw_bulk(kafka, f"bench.raw-{run}", int(max(batch, 1000) * 10)))
    finally:
        if cluster:
            cluster.stop()
    print()
    print(f"{'measure':<44}{'gateway':>12}{'raw aiokafka':>14}{'ratio':>8}")
    print(
        f"{'single events/s (' + str(args.connections) + ' concurrent)':<44}"
        f"{single['rps']:>12.0f}{raw['rps']:>14.0f}{single['rps'] / raw['rps']:>8.2f}"
    )
    print(f"{'single p50 latency ms':<44}{single['p50']:>12.1f}{raw['p50']:>14.1f}")
    print(f"{'single p99 latency ms':<44}{single['p99']:>12.1f}{raw['p99']:>14.1f}")
    print(
        f"{'batch events/s (' + str(args.batch_size) + ' per request)':<44}"
        f"{batch:>12.0f}{bulk:>14.0f}{batch / bulk:>8.2f}"
    )
    print(f"non-2xx answers during the single-event run: {single['errors']:.0f}")
    print("targets: single >= 3000 req/s with p99 < 50 ms; batch >= 0.50 of raw")


if __name__ == "__main__":
    main()
