"""Webhook deliveries per second on one worker, against a plain aiokafka consumer, same run.

    uv run python bench/share_webhook_bench.py [--events 20000] [--partitions 6]
        [--growth-events N | --no-growth] [--json PATH]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), produces the same `tthc.dossier.v1`
example payload `--events` times onto a fresh topic, then:

1. **Raw baseline**: a plain aiokafka consumer built by `raw_consumer` (`lgsp_common.kafka.
   create_consumer` with the options the worker's subscription consumer adds, from the worker's
   default settings), in its own consumer group, reads every record with the worker's records
   per poll and commits its positions every `COMMIT_INTERVAL_S`, as the worker does; records per
   second from its first batch to its last.
2. **Webhooks**: one delivery worker process (`python -m lgsp_gateway.delivery`) follows a
   registry topic holding one approved consumer and its subscription; every record is minimised,
   signed (Standard Webhooks) and POSTed to a receiver process on loopback answering 204 (a
   minimal keep-alive HTTP server, so the receiver is not what is measured). Deliveries per
   second between the receiver's first and last request; only 2xx answers exist and count (an
   event not delivered in time, or a worker that exits, invalidates the figure). The attempt
   latency p50/p99 comes from the worker's `webhook_attempt_seconds` histogram (bucket bounds).

Growth (`growth.py`), on the data size axis: a fresh topic (same partitions) of 1x, 2x and 4x
`--growth-events` events (default `--events`) per point, read by the raw baseline, then
delivered by a new worker and receiver, as above: deliveries/s against the raw consumer at the
same size. `--no-growth` leaves it out.

`--json PATH` writes the figures and the growth for `run_all.py`; the exit status is 1 if any
figure or growth point is invalid.
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from figures import Figure, Target, finish, invalid
from growth import Growth, Point, agrow

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_common.webhooks import SecretBox, new_signing_secret
from lgsp_devkit.kafka_local import LocalKafka, die_with_parent, free_port
from lgsp_devkit.testing import publish_registry_changes
from lgsp_gateway.delivery.service.subscription_runner import COMMIT_INTERVAL_S
from lgsp_gateway.delivery.settings import WebhookSettings

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())
FIELDS = [f"/{name}" for name in list(PAYLOAD)[:4]]
KEY = "bench-webhook-secrets-key-0123"
DELIVERIES = "webhook deliveries/s (one worker)"
TARGET = Target(">=", 2000)


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


def raw_consumer(
    kafka: KafkaSettings, group: str, topic: str, settings: WebhookSettings | None = None
) -> AIOKafkaConsumer:
    """Build a plain group consumer with the options of the worker's subscription consumer
    (`SubscriptionRunner.start`), from the worker's settings (its defaults unless given)."""
    settings = settings or WebhookSettings(kafka=kafka)
    return create_consumer(
        kafka,
        "bench-raw",
        group,
        topic,
        auto_offset_reset=settings.start_from,
        max_poll_interval_ms=3_600_000,
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=1_000,
    )


async def raw_baseline(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Read every record with a plain consumer group, the worker's records per poll, committing
    every COMMIT_INTERVAL_S as the worker does; records/s from the first batch to the last (all
    records counted, as the receiver counts every delivery from its first to its last)."""
    limit = WebhookSettings(kafka=kafka).max_batch
    consumer = raw_consumer(kafka, f"bench.raw.{uuid.uuid4().hex[:6]}", topic)
    await consumer.start()
    seen = 0
    started = committed = 0.0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=100, max_records=limit)
            if batches and not started:
                started = time.perf_counter()
            seen += sum(len(records) for records in batches.values())
            if batches and time.monotonic() - committed >= COMMIT_INTERVAL_S:
                await consumer.commit()
                committed = time.monotonic()
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
            # At least a quarter of the target's rate, or the events left count as failures.
            deadline = time.monotonic() + 60 + count / 500
            while stats["count"] < count and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                if process.poll() is not None:
                    raise RuntimeError(f"worker exited ({process.returncode}); see its log")
                stats = (await client.get(f"http://127.0.0.1:{receiver_port}/stats")).json()
        p50, p99 = await attempt_latency(port)
    finally:
        process.terminate()
        receiver.terminate()
        process.wait(30)
        receiver.wait(30)
    return delivered(stats, count, p50, p99)


def delivered(stats: dict[str, float], count: int, p50: float, p99: float) -> dict[str, float]:
    """Return the delivery rate (first to last request), how many were delivered and missing."""
    span = stats["last"] - stats["first"]
    rate = stats["count"] / span if stats["count"] > 1 and span > 0 else 0.0
    missing = max(0, count - int(stats["count"]))
    return {"rate": rate, "delivered": stats["count"], "missing": missing, "p50": p50, "p99": p99}


def deliveries_figure(raw: float, hooks: dict[str, float], events: int) -> Figure:
    """Return the webhook rate against the raw consumer's; an undelivered event invalidates."""
    note = (
        f"{hooks['delivered']:.0f} of {events} delivered; attempt p50 <= "
        f"{hooks['p50'] * 1000:.1f} ms, p99 <= {hooks['p99'] * 1000:.1f} ms"
    )
    return Figure(DELIVERIES, hooks["rate"], "events/s", raw, "raw aiokafka consumer", TARGET,
                  int(hooks["missing"]), note, extra=hooks)  # fmt: skip


async def one_run(
    kafka: KafkaSettings, run: str, events: int, partitions: int, folder: Path
) -> tuple[float, dict[str, float]]:
    """Fill a fresh topic with `events`, read it raw, deliver it; return both rates."""
    topic = f"bench.webhook-{run}.v1"
    await ensure_topics(kafka, [TopicSpec(topic, partitions)])
    await produce(kafka, topic, events)
    raw = await raw_baseline(kafka, topic, events)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    return raw, await webhooks(kafka, topic, run, events, folder)


async def events_growth(
    kafka: KafkaSettings, run: str, base: int, partitions: int, folder: Path
) -> Growth:
    """Deliveries/s of a fresh topic of 1x, 2x, 4x `base` events, the raw consumer at each."""

    async def point(events: int) -> Point:
        raw, hooks = await one_run(kafka, f"{run}-g{events}", events, partitions,
                                   folder / f"growth-{events}")  # fmt: skip
        note = f"{hooks['delivered']:.0f} delivered; p99: an attempt's, bucket bound"
        return Point(hooks["rate"], hooks["p99"] * 1000, raw, errors=int(hooks["missing"]),
                     note=note)  # fmt: skip

    return await agrow(DELIVERIES, "events/s", "data size", "events", base, point,
                       "raw aiokafka consumer")  # fmt: skip


async def main(events: int, partitions: int, growth: int) -> tuple[list[Figure], list[Growth]]:
    """Run the baseline and the webhook delivery on one broker (and the growth, unless
    `growth` is 0); return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="lgsp-webhook-bench-"))
    cluster = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        cluster = LocalKafka(folder / "kafka")
        bootstrap = cluster.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    run = uuid.uuid4().hex[:8]
    curves = []
    print(f"events: {events}, partitions: {partitions}, payload: {len(json.dumps(PAYLOAD))} bytes")
    try:
        try:
            raw, hooks = await one_run(kafka, run, events, partitions, folder)
            found = [deliveries_figure(raw, hooks, events)]
        except Exception as exc:
            found = [invalid(DELIVERIES, "events/s", repr(exc)[:200], TARGET)]
        if growth:
            print(f"» growth: fresh topics of {growth} x 1, 2, 4 events")
            curves.append(await events_growth(kafka, run, growth, partitions, folder))
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"logs in {folder}")
    return found, curves


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--growth-events", type=int, help="growth base (default --events)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        asyncio.run(serve_receiver(args.receiver))
    else:
        base = (args.growth_events or args.events) if args.growth else 0
        found, curves = asyncio.run(main(args.events, args.partitions, base))
        sys.exit(finish("share webhooks", found, args.json, curves))
