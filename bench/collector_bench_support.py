"""Pieces of the collector benchmark: records, processes, samples (see collector_bench.py)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ioc_collector.bootstrap import group_consumer_options
from ioc_collector.settings import CollectorSettings
from lgsp_common.access_tokens import new_access_token
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
SCHEMA = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
BASE = json.loads((TOPIC_DIR / "examples/valid/online-submitted-province.json").read_text())
DOSSIER_SUBMITTED = "vn.gov.lgsp.tthc.dossier.submitted"  # the contract's eventType
MAX_BATCH = 2000  # records per poll, for both consumers
DISTRICTS = ["747", "748", "750", "751", "752", "753", "754", "755"]
# The collector's data routes need a viewer: one registry access token for the bench's reads.
VIEWER = new_access_token()
AUTH = {"authorization": f"Bearer {VIEWER.token}"}
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


def viewer_change() -> tuple[str, str, dict[str, Any]]:
    """Return the registry change that lets the bench read the collector's API (a viewer)."""
    token = {"id": VIEWER.id, "token_hash": VIEWER.token_hash, "role": "viewer", "name": "bench"}
    return ("access_token", VIEWER.id, token)


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
                event = CloudEvent(source="/sources/bench", type=DOSSIER_SUBMITTED, data=data)
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


def plain_consumer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Return the plain consumer's options: the collector's stream consumer's, without a group.

    Built by the collector's own function (`ioc_collector.bootstrap.group_consumer_options`),
    so fetch sizes, isolation and timeouts are the collector's; only the group is left out
    (the plain consumer reads every partition itself) and the client id is its own.
    """
    settings = CollectorSettings(kafka=kafka, max_batch=MAX_BATCH)
    return group_consumer_options(settings) | {"group_id": None, "client_id": "bench-plain"}


def window_rate(first: Sample, last: Sample) -> Rate:
    """Return the rate between two samples: the records applied, over wall and CPU time."""
    done = last.events - first.events
    if done <= 0 or last.at <= first.at:
        raise RuntimeError("too few samples to measure a rate: pre-fill more --events")
    return Rate(done / (last.at - first.at), done / max(last.cpu_s - first.cpu_s, 1e-9))


async def plain_consumer(kafka: KafkaSettings, topic: str, count: int) -> Rate:
    """Return the rate of a plain consumer reading the whole topic.

    The window is the collector's (`collector_bench.collector_throughput`): from the first
    records seen to the moment all `count` are, the first batch left out on both sides.
    """
    consumer = AIOKafkaConsumer(topic, **plain_consumer_options(kafka))
    await consumer.start()
    seen, first = 0, None
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=MAX_BATCH)
            seen += sum(len(records) for records in batches.values())
            if batches and first is None:
                first = Sample(time.perf_counter(), seen, time.process_time())
    finally:
        await consumer.stop()
    assert first is not None
    return window_rate(first, Sample(time.perf_counter(), seen, time.process_time()))


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
    body = (await http.get(url + "/v1/streams/counts", timeout=5, headers=AUTH)).json()
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
