"""Webhook deliveries per second on one worker, against a plain aiokafka consumer, same run.

    uv run python bench/share_webhook_bench.py [--events 20000] [--partitions 6]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), produces the same `tthc.dossier.v1`
example payload `--events` times onto a fresh topic, then:

1. **Raw baseline**: a plain aiokafka consumer built by `lgsp_common.kafka.create_consumer` (the
   settings function the worker uses), in its own consumer group, reads every record and commits
   after each poll, as the worker does; records per second.
2. **Webhooks**: one delivery worker process (`python -m lgsp_gateway.delivery`) follows a
   registry topic holding one approved consumer and its subscription; every record is minimised,
   signed (Standard Webhooks) and POSTed to a receiver process on loopback answering 204 (a
   minimal keep-alive HTTP server, so the receiver is not what is measured). Deliveries per
   second between the receiver's first and last request; only 2xx answers exist and count. The
   attempt latency p50/p99 comes from the worker's `webhook_attempt_seconds` histogram.

Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from aiokafka import AIOKafkaProducer

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_common.webhooks import SecretBox, new_signing_secret
from lgsp_devkit.kafka_local import LocalKafka, die_with_parent, free_port
from lgsp_devkit.testing import publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())
FIELDS = [f"/{name}" for name in list(PAYLOAD)[:4]]
KEY = "bench-webhook-secrets-key-0123"


class Receiver(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive server answering 204 to every POST; GET /stats reports."""

    stats: ClassVar[dict[str, float]] = {"count": 0, "first": 0.0, "last": 0.0}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            if head.startswith(b"GET"):
                body = json.dumps(Receiver.stats).encode()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                continue
            now = time.monotonic()
            Receiver.stats["first"] = Receiver.stats["first"] or now
            Receiver.stats["last"] = now
            Receiver.stats["count"] += 1
            self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")


async def serve_receiver(port: int) -> None:
    """Run the receiver until killed."""
    server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def produce(kafka: KafkaSettings, topic: str, count: int) -> None:
    """Produce `count` CloudEvents of the example payload, keyed over 200 entities."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=5, max_batch_size=512_000
    )
    await producer.start()
    try:
        pending = []
        for n in range(count):
            event = CloudEvent(
                source="/sources/bench", type="vn.gov.lgsp.tthc.dossier", data=PAYLOAD
            )
            record = to_kafka(event, f"d-{n % 200}", {})
            pending.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_baseline(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Read every record with a plain consumer group, committing after each poll; records/s."""
    consumer = create_consumer(kafka, "bench-raw", f"bench.raw.{uuid.uuid4().hex[:6]}", topic)
    await consumer.start()
    seen = 0
    started = 0.0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if batches and not started:
                started = time.perf_counter()
            seen += sum(len(records) for records in batches.values())
            if batches:
                await consumer.commit()
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def start_worker(kafka: KafkaSettings, registry: str, run: str, log: Path) -> tuple[Any, int]:
    """Start one delivery worker process on the run's topics."""
    port = free_port()
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_WEBHOOK_SECRETS_KEY": KEY,
        "LGSP_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "LGSP_WEBHOOKS_PORT": str(port),
        "LGSP_WEBHOOKS_REGISTRY_TOPIC": registry,
        "LGSP_WEBHOOKS_AUDIT_TOPIC": f"bench.audit-{run}",
        "LGSP_WEBHOOKS_DLQ_TOPIC": f"bench.whdlq-{run}",
        "LGSP_WEBHOOKS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lgsp_gateway.delivery"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )
    return process, port


async def wait_ready(port: int, process: Any, log: Path) -> None:
    """Wait until the worker's /readyz answers 200."""
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"worker exited; see {log}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("worker not ready")


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Return the upper bound of the histogram bucket holding quantile q."""
    total = buckets[-1][1]
    return next(bound for bound, count in buckets if count >= q * total)


async def attempt_latency(port: int) -> tuple[float, float]:
    """Read p50 and p99 of one delivery attempt from the worker's histogram."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    buckets = []
    for line in text.splitlines():
        if line.startswith("webhook_attempt_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append(
                (float("inf") if bound == "+Inf" else float(bound), float(line.split()[-1]))
            )
    return quantile(buckets, 0.5), quantile(buckets, 0.99)


async def webhooks(
    kafka: KafkaSettings, topic: str, run: str, count: int, folder: Path
) -> dict[str, float]:
    """Deliver every record through one worker to the receiver; deliveries/s and latency."""
    receiver_port = free_port()
    receiver = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [sys.executable, __file__, "--receiver", str(receiver_port)],
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )
    registry = f"bench.registry-{run}"
    await ensure_topics(
        kafka,
        [
            TopicSpec(registry, 1, config={"cleanup.policy": "compact"}),
            TopicSpec(f"bench.audit-{run}", 1),
            TopicSpec(f"bench.audit-{run}.checkpoints", 1, config={"cleanup.policy": "compact"}),
            TopicSpec(f"bench.whdlq-{run}", 1),
        ],
    )
    consumer: dict[str, object] = {
        "id": "bench",
        "topic": topic,
        "status": "approved",
        "fields": FIELDS,
        "purpose": "bench",
    }
    now = datetime.now(UTC).isoformat()
    secret = {
        "sealed": SecretBox(KEY).seal(new_signing_secret()),
        "created_at": now,
        "expires_at": None,
    }
    sub: dict[str, object] = {
        "id": f"wh-{run}",
        "consumer_id": "bench",
        "topic": topic,
        "url": f"http://127.0.0.1:{receiver_port}/hook",
        "status": "active",
        "secrets": [secret],
        "replay": None,
        "created_at": now,
    }
    process, port = start_worker(kafka, registry, run, folder / "worker.log")
    try:
        await wait_ready(port, process, folder / "worker.log")
        await publish_registry_changes(
            kafka,
            registry,
            [("consumer", "bench", consumer), ("webhook_subscription", f"wh-{run}", sub)],
        )
        stats: dict[str, float] = {"count": 0}
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = time.monotonic() + 600
            while stats["count"] < count and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                stats = (await client.get(f"http://127.0.0.1:{receiver_port}/stats")).json()
        p50, p99 = await attempt_latency(port)
    finally:
        process.terminate()
        receiver.terminate()
        process.wait(30)
    rate = stats["count"] / max(stats["last"] - stats["first"], 1e-9)
    return {"rate": rate, "delivered": stats["count"], "p50": p50, "p99": p99}


async def main(events: int, partitions: int) -> None:
    """Run the baseline and the webhook delivery on one broker; print both and the ratio."""
    folder = Path(tempfile.mkdtemp(prefix="lgsp-webhook-bench-"))
    cluster = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        cluster = LocalKafka(folder / "kafka")
        bootstrap = cluster.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    run = uuid.uuid4().hex[:8]
    topic = f"bench.webhook-{run}.v1"
    try:
        await ensure_topics(kafka, [TopicSpec(topic, partitions)])
        await produce(kafka, topic, events)
        raw = await raw_baseline(kafka, topic, events)
        hooks = await webhooks(kafka, topic, run, events, folder)
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"events: {events}, partitions: {partitions}, payload: {len(json.dumps(PAYLOAD))} bytes")
    print(f"raw aiokafka consumer:  {raw:10.0f} records/s")
    print(
        f"webhook deliveries:     {hooks['rate']:10.0f} events/s  "
        f"({hooks['delivered']:.0f} delivered; attempt p50 ≤ {hooks['p50'] * 1000:.1f} ms, "
        f"p99 ≤ {hooks['p99'] * 1000:.1f} ms)"
    )
    ratio = hooks["rate"] / raw
    print(f"ratio webhooks / raw:   {ratio:10.2f}  (target: ≥ 2,000 events/s on one worker)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        asyncio.run(serve_receiver(args.receiver))
    else:
        asyncio.run(main(args.events, args.partitions))
