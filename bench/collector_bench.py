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
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
SCHEMA = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
BASE = json.loads((TOPIC_DIR / "examples/valid/online-submitted-province.json").read_text())
MAX_BATCH = 2000  # records per poll, for both consumers
DISTRICTS = ["747", "748", "750", "751", "752", "753", "754", "755"]
PROBE_KPI = """id: bench-probes
title_vi: Sự kiện dò
title_en: Bench probes
topic: {topic}
filter: {{where: [{{field: procedure_code, op: eq, value: PROBE}}]}}
measure: {{kind: count}}
time_field: submitted_at
window: month
allowed_lateness: P1D
unit: probes
"""


def dossier(n: int, rng: random.Random, procedure: str = "1.001612") -> dict[str, Any]:
    """Return a valid dossier submission of the last hour."""
    at = datetime.now(UTC) - timedelta(seconds=rng.randint(0, 3600))
    return {**BASE, "dossier_id": f"B-{n:08d}-{uuid.uuid4().hex[:6]}",
            "procedure_code": procedure, "district_code": rng.choice(DISTRICTS),
            "level": rng.choice(["province", "district", "commune"]),
            "channel": rng.choice(["online", "paper"]), "submitted_at": at.isoformat()}  # fmt: skip


def write_config(root: Path, topics: list[str]) -> tuple[Path, Path]:
    """Write a contracts folder and the repository's dossier KPIs, both for the bench topics."""
    kpis = root / "kpis"
    kpis.mkdir(parents=True)
    for topic in topics:
        folder = root / "contracts" / "topics" / topic
        folder.mkdir(parents=True)
        (folder / "v1.schema.json").write_text(json.dumps(SCHEMA))
    for source in sorted((ROOT / "services/ioc-collector/kpis").glob("*.yaml")):
        text = source.read_text(encoding="utf-8")
        if "topic: tthc.dossier.v1" not in text:
            continue
        for n, topic in enumerate(topics):
            renamed = text.replace("topic: tthc.dossier.v1", f"topic: {topic}")
            renamed = renamed.replace(f"id: {source.stem}", f"id: {source.stem}-{n}")
            (kpis / f"{source.stem}-{n}.yaml").write_text(renamed, encoding="utf-8")
    (kpis / "bench-probes.yaml").write_text(PROBE_KPI.format(topic=topics[-1]))
    return root / "contracts", kpis


async def prefill(kafka: KafkaSettings, topic: str, count: int) -> None:
    """Write `count` dossier events as the gateway would (binary mode, entity key)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                linger_ms=20, max_batch_size=512 * 1024)  # fmt: skip
    await producer.start()
    rng = random.Random(1)
    try:
        for start in range(0, count, 5000):
            futures = []
            for n in range(start, min(count, start + 5000)):
                data = dossier(n, rng)
                event = CloudEvent(source="/sources/bench", type="t.submitted", data=data)
                record = to_kafka(event, data["dossier_id"], carrier={})
                futures.append(await producer.send(topic, record.value, key=record.key,
                                                   headers=record.headers))  # fmt: skip
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Rate:
    """Events per wall-clock second, and per CPU second of the consuming process."""

    wall: float
    cpu: float


def process_cpu_s(pid: int) -> float:
    """Return the user + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def plain_consumer(kafka: KafkaSettings, topic: str, count: int) -> Rate:
    """Return the rate of a plain consumer reading the whole topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    seen, first, started, cpu = 0, 0, 0.0, 0.0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=MAX_BATCH)
            seen += sum(len(records) for records in batches.values())
            if batches and not started:  # as for the collector: the clock starts after a batch
                first, started, cpu = seen, time.perf_counter(), time.process_time()
    finally:
        await consumer.stop()
    done = count - first
    return Rate(done / (time.perf_counter() - started), done / (time.process_time() - cpu))


def start_process(module: str, env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a service process and wait for its /healthz."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", module], env=os.environ | env,
                                   stdout=out, stderr=out)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{module} did not start; see {log}")


def collector_env(kafka: KafkaSettings, root: Path, topic: str, name: str) -> dict[str, str]:
    """Return the environment of a collector process for one bench topic."""
    contracts, kpis = root / "contracts", root / "kpis"
    return {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "IOC_COLLECTOR_MAX_BATCH": str(MAX_BATCH),
            "IOC_COLLECTOR_TOPICS": json.dumps([topic]), "IOC_COLLECTOR_GROUP_ID": f"bench-{name}",
            "IOC_COLLECTOR_KPIS_DIR": str(kpis), "IOC_COLLECTOR_CONTRACTS_DIR": str(contracts),
            "IOC_COLLECTOR_STORE_PATH": str(root / f"{name}.sqlite3"),
            "IOC_COLLECTOR_REGISTRY_TOPIC": f"{topic}.registry",
            "IOC_COLLECTOR_DLQ_TOPIC": f"{topic}.dlq", "IOC_COLLECTOR_KPI_TOPIC": f"{topic}.kpi",
            "IOC_COLLECTOR_LOG_LEVEL": "WARNING"}  # fmt: skip


async def consumed(http: httpx.AsyncClient, url: str) -> int:
    """Return the events the collector has applied (all partitions)."""
    body = (await http.get(url + "/v1/streams/counts", timeout=5)).json()
    return sum(s["events"] for s in body["sources"])


@dataclass(frozen=True)
class Sample:
    """What the collector had applied at a moment, and the CPU it had used by then."""

    at: float
    events: int
    cpu_s: float


async def sample(http: httpx.AsyncClient, url: str, pid: int) -> Sample:
    """Return the count the collector reports, timed at the middle of the request."""
    before = time.perf_counter()
    events = await consumed(http, url)
    at = (before + time.perf_counter()) / 2
    return Sample(at, events, process_cpu_s(pid))


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
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "t.submitted",
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
