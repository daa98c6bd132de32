"""Pieces of the share pull benchmark: the run's topics, registry entries and gateway, the raw
aiokafka consumer's baseline and the wake-up latency of both sides (see share_pull_bench.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from gateway_process import start_gateway_process

from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.testing import new_api_key, publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]


TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"


PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())


FIELDS = ["/dossier_id", "/district_code", "/status", "/submitted_at"]


PAGE = 500


# The options of the gateway's pooled readers and tail (`reader_pool.TopicFeed._consumer`).
READER_OPTIONS: dict[str, Any] = {"fetch_max_wait_ms": 100, "metadata_max_age_ms": 5000}


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


def raw_consumer(kafka: KafkaSettings, client_id: str) -> AIOKafkaConsumer:
    """Build a plain consumer as the gateway builds its pooled readers (same options)."""
    return create_consumer(kafka, client_id, None, **READER_OPTIONS)


async def _assign_all(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not tps:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    return tps


async def raw_throughput(kafka: KafkaSettings, topic: str, count: int, readers: int = 1) -> float:
    """Read `count` records with each of `readers` plain consumers, concurrently,
    `getmany(max_records=500)`; return records/s of all of them together."""
    consumers = [raw_consumer(kafka, f"bench-raw-{n}") for n in range(readers)]
    try:
        await asyncio.gather(*(consumer.start() for consumer in consumers))
        for consumer in consumers:
            await consumer.seek_to_beginning(*await _assign_all(consumer, topic))
        started = time.monotonic()
        read = await asyncio.gather(*(_drain(consumer, count) for consumer in consumers))
        return sum(read) / (time.monotonic() - started)
    finally:
        await asyncio.gather(*(c.stop() for c in consumers), return_exceptions=True)


async def _drain(consumer: AIOKafkaConsumer, count: int) -> int:
    read = 0
    while read < count:
        batches = await consumer.getmany(timeout_ms=1000, max_records=PAGE)
        for records in batches.values():  # decoded, as the pull client decodes its answer
            read += len([orjson.loads(record.value) for record in records])
    return read


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


@dataclass
class Woken:
    """The latencies (ms) of the events one side read, and how many events were produced."""

    latencies: list[float]
    sent: int

    @property
    def missing(self) -> int:
        """Return how many produced events this side never read (each a failure)."""
        return max(0, self.sent - len(self.latencies))


async def pull_latency(
    kafka: KafkaSettings, url: str, topic: str, key: str, rate: int, seconds: float
) -> Woken:
    """Long-poll the topic while events arrive at `rate`/s; return each event's latency (ms)."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60) as http:
        first = await http.get(f"/v1/topics/{topic}/records", params={"position": "latest"})
        if first.status_code != 200:
            raise RuntimeError(f"answer {first.status_code}: {first.text[:200]}")
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
                    raise RuntimeError(f"answer {answer.status_code}: {answer.text[:200]}")
                body = answer.json()
                latencies.extend((now - sent[r["id"]]) * 1000 for r in body["records"])
                position = body["next"]
                if done.is_set() and not body["records"]:
                    break

        poller = asyncio.create_task(poll())
        await paced_producer(kafka, topic, rate, seconds, sent)
        done.set()
        await asyncio.wait_for(poller, 60)
    return Woken(latencies, len(sent))


async def raw_latency(kafka: KafkaSettings, topic: str, rate: int, seconds: float) -> Woken:
    """Tail the topic with a plain consumer while events arrive; return latencies (ms)."""
    consumer = raw_consumer(kafka, "bench-raw-tail")
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
    return Woken(latencies, len(sent))
