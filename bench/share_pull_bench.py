"""Pull reads against a plain aiokafka consumer, same broker, same records, same run.

    uv run python bench/share_pull_bench.py [--records 50000] [--rate 1000] [--seconds 10]
        [--rounds 1] [--throughput-only]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), registers a source, a contract and an
approved consumer (four fields), puts `--records` events on a 3-partition topic and starts the
gateway as its own process. Then, one reader each, sequentially:

- throughput: the gateway's `GET /v1/topics/{topic}/records?max_records=500` following its
  cursors (every page minimised, rendered and audited with an acknowledged record; the client
  decodes each answer with orjson) against a plain consumer built by
  `lgsp_common.kafka.create_consumer` (the settings function the gateway's pooled readers use)
  reading the same records with `getmany(max_records=500)` and decoding each value with orjson;
- wake-up latency: events produced at `--rate`/s for `--seconds`, from the moment each is handed
  to the producer until a long poll (`wait_ms=30000`) answers it, against the same events
  consumed by a plain consumer tailing the topic.

With `--rounds N` the two throughput readers take turns N times on the same gateway and broker
(each round prints its figures, with the CPU time per 500 records of the gateway process, of the
bench's client and of the raw consumer; the table shows the medians), so that a load spike of a
shared machine hits both sides alike. `--throughput-only` leaves out the wake-up latency (for
iterating). Only 200 answers count. Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from gateway_process import start_gateway_process

from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka
from lgsp_devkit.testing import new_api_key, publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())
FIELDS = ["/dossier_id", "/district_code", "/status", "/submitted_at"]
PAGE = 500


async def prepare(kafka: KafkaSettings, run: str) -> tuple[str, str, str]:
    """Create the run's topics, a source, its contract and an approved consumer; return names."""
    topic, registry = f"bench.share-{run}.v1", f"bench.registry-{run}"
    specs = [
        TopicSpec(topic, 3),
        TopicSpec(f"bench.live-{run}.v1", 3),
        TopicSpec(registry, 1, config={"cleanup.policy": "compact"}),
        TopicSpec(f"bench.audit-{run}", 3),
        TopicSpec(f"bench.audit-{run}.checkpoints", 1, config={"cleanup.policy": "compact"}),
    ]
    await ensure_topics(kafka, specs)
    schema = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
    changes: list[Any] = [("source", "bench", {"id": "bench", "topic": topic, "status": "active"})]
    keys = []
    for name, on in (("bench-reader", topic), ("live-reader", f"bench.live-{run}.v1")):
        contract = {"id": f"c-{name}", "subject": on, "version": 1, "schema": schema}
        consumer = {"id": name, "topic": on, "purpose": "benchmark", "fields": FIELDS}
        key_id, key = new_api_key()
        keys.append(key)
        changes += [
            ("contract", f"c-{name}", contract),
            ("consumer", name, consumer | {"status": "approved"}),
            ("api_key", key_id, {"id": key_id, "consumer_id": name, "key_hash": hash_api_key(key)}),
        ]
    await publish_registry_changes(kafka, registry, changes)
    return topic, registry, " ".join(keys)


async def fill(kafka: KafkaSettings, topic: str, count: int) -> None:
    """Put `count` binary-mode events on the topic."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i in range(count):
            event = CloudEvent(source="/sources/bench", type="t.dossier", data=PAYLOAD)
            record = to_kafka(event, f"key-{i % 97}")
            futures.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def start_gateway(kafka: KafkaSettings, run: str, registry: str) -> tuple[Any, str]:
    """Start the gateway process and wait until it is ready; return (process, base url)."""
    settings = {
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_AUDIT_TOPIC": f"bench.audit-{run}",
    }
    return start_gateway_process(kafka, settings)


async def pull_throughput(
    url: str, topic: str, key: str, count: int, client: str = "httpx"
) -> tuple[float, int]:
    """Read `count` records by following cursors, 500 per request; return records/s, answers.

    `client` is the HTTP client: `httpx` (pure-Python HTTP/1.1 parsing) or `aiohttp` (its C
    parser, as aiokafka parses records in C).
    """
    get = _aiohttp_reader if client == "aiohttp" else _httpx_reader
    read, answers, position = 0, 0, "earliest"
    async with get(url, key) as fetch:
        started = time.monotonic()
        while read < count:
            status, content = await fetch(
                f"/v1/topics/{topic}/records",
                {"position": position, "max_records": PAGE, "wait_ms": 1000},
            )
            if status != 200:
                raise RuntimeError(content.decode(errors="replace"))
            body = orjson.loads(content)
            read += len(body["records"])
            answers += 1
            position = body["next"]
        return read / (time.monotonic() - started), answers


Fetch = Callable[[str, dict[str, Any]], Awaitable[tuple[int, bytes]]]


@asynccontextmanager
async def _httpx_reader(url: str, key: str) -> AsyncIterator[Fetch]:
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60) as http:

        async def fetch(path: str, params: dict[str, Any]) -> tuple[int, bytes]:
            answer = await http.get(path, params=params)
            return answer.status_code, answer.content

        yield fetch


@asynccontextmanager
async def _aiohttp_reader(url: str, key: str) -> AsyncIterator[Fetch]:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, headers={"x-api-key": key}, timeout=timeout) as http:

        async def fetch(path: str, params: dict[str, Any]) -> tuple[int, bytes]:
            async with http.get(path, params=params) as answer:
                return answer.status, await answer.read()

        yield fetch


async def raw_throughput(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Read `count` records with a plain consumer, `getmany(max_records=500)`; return records/s."""
    consumer = create_consumer(kafka, "bench-raw", None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        read = 0
        started = time.monotonic()
        while read < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=PAGE)
            for records in batches.values():  # decoded, as the pull client decodes its answer
                read += len([orjson.loads(record.value) for record in records])
        return read / (time.monotonic() - started)
    finally:
        await consumer.stop()


async def paced_producer(
    kafka: KafkaSettings, topic: str, rate: int, seconds: float, sent: dict[str, float]
) -> None:
    """Produce `rate` events/s for `seconds`, noting when each was handed to the producer."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=1)
    await producer.start()
    try:
        tick, per_tick = 0.01, max(1, rate // 100)
        started = time.monotonic()
        for n in range(int(seconds / tick)):
            for _ in range(per_tick):
                event = CloudEvent(source="/sources/bench", type="t", data=PAYLOAD)
                record = to_kafka(event, event.id)
                sent[event.id] = time.perf_counter()
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            await asyncio.sleep(max(0.0, started + (n + 1) * tick - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()


def cpu_seconds(pid: int | None = None) -> float:
    """Return the CPU time (user + system) a process used so far: this one, or `pid` (Linux)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> tuple[float, float]:
    """Return p50 and p99 of the values."""
    values.sort()
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


async def pull_latency(
    kafka: KafkaSettings, url: str, topic: str, key: str, rate: int, seconds: float
) -> list[float]:
    """Long-poll the topic while events arrive at `rate`/s; return each event's latency (ms)."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60) as http:
        first = await http.get(f"/v1/topics/{topic}/records", params={"position": "latest"})
        position = first.json()["next"]

        async def poll() -> None:
            nonlocal position
            while not done.is_set() or len(latencies) < len(sent):
                answer = await http.get(
                    f"/v1/topics/{topic}/records",
                    params={"position": position, "max_records": 1000, "wait_ms": 2000},
                )
                now = time.perf_counter()
                if answer.status_code != 200:
                    raise RuntimeError(answer.text)
                body = answer.json()
                latencies.extend((now - sent[r["id"]]) * 1000 for r in body["records"])
                position = body["next"]
                if done.is_set() and not body["records"]:
                    break

        poller = asyncio.create_task(poll())
        await paced_producer(kafka, topic, rate, seconds, sent)
        done.set()
        await asyncio.wait_for(poller, 60)
    return latencies


async def raw_latency(kafka: KafkaSettings, topic: str, rate: int, seconds: float) -> list[float]:
    """Tail the topic with a plain consumer while events arrive; return latencies (ms)."""
    consumer = create_consumer(kafka, "bench-raw-tail", None)
    await consumer.start()
    sent: dict[str, float] = {}
    latencies: list[float] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        producing = asyncio.create_task(paced_producer(kafka, topic, rate, seconds, sent))
        while not producing.done() or len(latencies) < len(sent):
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    ce_id = dict(record.headers)["ce_id"].decode()
                    latencies.append((now - sent[ce_id]) * 1000)
            if producing.done() and not batches:
                break
        await producing
    finally:
        await consumer.stop()
    return latencies


def throughput_round(
    n: int,
    kafka: KafkaSettings,
    gateway: Any,
    url: str,
    topic: str,
    key: str,
    records: int,
    client: str,
) -> tuple[float, float]:
    """Run the gateway reader, then the raw consumer, once; print the round; return both."""
    pages = records / PAGE
    print(f"» gateway pull, {PAGE} per request")
    cpu = cpu_seconds(gateway.pid), cpu_seconds()
    pulled, answers = asyncio.run(pull_throughput(url, topic, key, records, client))
    served = (cpu_seconds(gateway.pid) - cpu[0]) / pages * 1000
    client = (cpu_seconds() - cpu[1]) / pages * 1000
    print("» raw aiokafka consumer, same records")
    cpu = cpu_seconds(gateway.pid), cpu_seconds()
    raw = asyncio.run(raw_throughput(kafka, topic, records))
    plain = (cpu_seconds() - cpu[1]) / pages * 1000
    print(
        f"  round {n}: gateway {pulled:.0f}/s, raw {raw:.0f}/s, ratio {pulled / raw:.2f}; "
        f"CPU ms per {PAGE} records: gateway {served:.2f} + its client {client:.2f}, raw "
        f"consumer {plain:.2f}; wall ms per {PAGE}: {PAGE / pulled * 1000:.2f} against "
        f"{PAGE / raw * 1000:.2f}; {records / answers:.0f} records per answer"
    )
    return pulled, raw


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds, medians shown")
    parser.add_argument("--throughput-only", action="store_true", help="no wake-up latency")
    parser.add_argument("--client", choices=("httpx", "aiohttp"), default="httpx")
    args = parser.parse_args()
    cluster = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = cluster.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    run = uuid.uuid4().hex[:8]
    woke: list[float] = []
    tailed: list[float] = []
    try:
        topic, registry, keys = asyncio.run(prepare(kafka, run))
        key, live_key = keys.split()
        live = f"bench.live-{run}.v1"
        print(f"» filling {topic} with {args.records} events")
        asyncio.run(fill(kafka, topic, args.records))
        gateway, url = start_gateway(kafka, run, registry)
        try:
            print(f"» gateway process {gateway.pid} at {url}")
            rounds = [
                throughput_round(n, kafka, gateway, url, topic, key, args.records, args.client)
                for n in range(1, args.rounds + 1)
            ]
            if not args.throughput_only:
                print(f"» long-poll wake-up at {args.rate} events/s for {args.seconds:.0f}s")
                woke = asyncio.run(
                    pull_latency(kafka, url, live, live_key, args.rate, args.seconds)
                )
        finally:
            gateway.terminate()
            gateway.wait(30)
        if not args.throughput_only:
            print("» raw aiokafka consumer tailing, same rate")
            tailed = asyncio.run(raw_latency(kafka, live, args.rate, args.seconds))
    finally:
        if cluster:
            cluster.stop()
    print_table(rounds, woke, tailed)


def print_table(rounds: list[tuple[float, float]], woke: list[float], tailed: list[float]) -> None:
    """Print the figures (throughput: the medians of the rounds)."""
    pulled = statistics.median(p for p, _ in rounds)
    raw = statistics.median(r for _, r in rounds)
    print()
    print(f"{'measure':<46}{'gateway':>12}{'raw aiokafka':>14}{'ratio':>8}")
    label = f"pull records/s ({PAGE} per request)"
    print(f"{label:<46}{pulled:>12.0f}{raw:>14.0f}{pulled / raw:>8.2f}")
    if len(rounds) > 1:
        ratios = ", ".join(f"{p / r:.2f}" for p, r in sorted(rounds, key=lambda x: x[0] / x[1]))
        print(f"ratio per round: {ratios} (load average {os.getloadavg()[0]:.1f})")
    if woke and tailed:
        (p50, p99), (raw50, raw99) = percentiles(woke), percentiles(tailed)
        print(f"{'produce-to-wake-up p50 ms':<46}{p50:>12.1f}{raw50:>14.1f}")
        print(f"{'produce-to-wake-up p99 ms':<46}{p99:>12.1f}{raw99:>14.1f}")
        print(f"events measured: gateway {len(woke)}, raw {len(tailed)}")
    print("targets: pull >= 0.50 of raw; wake-up p99 < 50 ms at 1,000 events/s")


if __name__ == "__main__":
    main()
