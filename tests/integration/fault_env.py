"""What the 3-broker fault suite needs: its own cluster, a gateway on it, a load, a collector.

`Load` publishes distinct events through the gateway's HTTP API at a steady rate, retries a 503
or a lost answer with the same `ce-id` (the gateway says that is safe), and keeps every answer
with its time, so the suite can tell what was acknowledged and how long 202s stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from gateway_env import VALID, headers, registry_entities

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

SUBMITTED_AT = "2024-10-01T08:00:00+07:00"  # one window: every event counts, none is late
KPI = (
    "id: dossiers\ntitle_vi: Hồ sơ (vi)\ntitle_en: Dossiers\ntopic: {topic}\n"
    "time_field: submitted_at\nwindow: day\nallowed_lateness: P3650D\nidle_timeout: P3650D\n"
    "measure: {{kind: count}}\nunit: dossiers\n"
)


@dataclass
class Topics:
    """The suite's topics on its own cluster (replication factor 3, min ISR 2)."""

    data: str = "tthc.fault"
    other: str = "other.fault"
    registry: str = "lgsp.registry"
    dlq: str = "lgsp.dlq"
    audit: str = "lgsp.audit"
    kpi: str = "ioc.kpi"

    async def create(self, kafka: KafkaSettings) -> None:
        """Create every topic with three replicas."""
        specs = [
            TopicSpec(self.data, 3),
            TopicSpec(self.other, 3),
            TopicSpec(self.registry, 1, config={"cleanup.policy": "compact"}),
            TopicSpec(self.dlq, 3),
            TopicSpec(self.audit, 3),
            TopicSpec(self.kpi, 3, config={"cleanup.policy": "compact"}),
        ]
        await ensure_topics(kafka, specs)


@contextlib.asynccontextmanager
async def gateway(kafka: KafkaSettings, topics: Topics) -> AsyncIterator[tuple[str, str]]:
    """Serve a gateway on the cluster over real HTTP; yields (base URL, API key)."""
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(
        kafka,
        topics.registry,
        [*registry_entities(topics.data, topics.other, keys), viewer_change()],
    )  # the viewer reads the collector's figures
    settings = GatewaySettings(
        kafka=kafka,
        registry_topic=topics.registry,
        dlq_topic=topics.dlq,
        audit_topic=topics.audit,
        rate_limit_per_source=10_000.0,
        rate_limit_burst=10_000.0,
        retry_after_s=1,
    )
    async with serve(create_app(settings)) as url:
        yield url, keys["main"]


@dataclass
class Answer:
    """One HTTP attempt: when it was sent and answered, and how."""

    ce_id: str
    sent: float
    done: float
    status: int  # 0: no answer (connection error or client timeout)
    retry_after: str | None
    problem: str = ""  # the problem+json `type` of a refusal (which check refused it)
    partition: int | None = None  # where a 202 says the event was written


@dataclass
class Load:
    """Publishes distinct events at `rate` per second until stopped, retrying what failed."""

    url: str
    key: str
    topic: str
    rate: float = 40.0
    answers: list[Answer] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    attempted: set[str] = field(default_factory=set)
    began: float = field(default_factory=time.monotonic)  # the timeline's origin
    _running: bool = True
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        """Start one event every 1/rate seconds (each in its own task) until `stop`."""
        async with httpx.AsyncClient(timeout=20.0) as http:
            started, n = time.monotonic(), 0
            while self._running:
                task = asyncio.create_task(self._publish(http, f"fault-{n:06d}"))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                n += 1
                await asyncio.sleep(max(0.0, started + n / self.rate - time.monotonic()))
            await asyncio.gather(*list(self._tasks))

    def stop(self) -> None:
        """Start no new event; `run` returns once every started one is settled."""
        self._running = False

    async def _publish(self, http: httpx.AsyncClient, dossier: str) -> None:
        ce_id = str(uuid.uuid4())
        self.attempted.add(ce_id)
        body = VALID | {"dossier_id": dossier, "submitted_at": SUBMITTED_AT}
        for _ in range(30):
            sent = time.monotonic()
            try:
                reply = await http.post(
                    f"{self.url}/v1/topics/{self.topic}/events",
                    json=body,
                    headers=headers(self.key, **{"ce-id": ce_id}),
                )
                status, retry_after = reply.status_code, reply.headers.get("retry-after")
                problem = "" if status == 202 else problem_type(reply)
                partition = written_to(reply) if status == 202 else None
            except httpx.HTTPError as exc:
                status, retry_after, problem, partition = 0, None, type(exc).__name__, None
            done = time.monotonic()
            self.answers.append(Answer(ce_id, sent, done, status, retry_after, problem, partition))
            if status == 202:
                self.acked.add(ce_id)
                return
            if 400 <= status < 500:
                return
            await asyncio.sleep(float(retry_after or 1))

    def last_202(self) -> float:
        """Return when the latest 202 arrived (0 if none yet)."""
        return max((a.done for a in self.answers if a.status == 202), default=0.0)

    async def wait_for_202_after(self, moment: float, timeout_s: float = 60.0) -> float:
        """Wait until a 202 answers an attempt sent after `moment`; return that time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [a.done for a in self.answers if a.status == 202 and a.sent > moment]
            if done:
                return min(done)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no 202 within {timeout_s:.0f}s of the fault")


def written_to(reply: httpx.Response) -> int | None:
    """Return the partition a 202 names (None if its body has none)."""
    with contextlib.suppress(ValueError, AttributeError, TypeError, KeyError):
        return int(reply.json()["partition"])
    return None


def problem_type(reply: httpx.Response) -> str:
    """Return the last path segment of a problem+json `type` (empty if the body has none)."""
    with contextlib.suppress(ValueError, AttributeError):
        return str(reply.json().get("type", "")).rsplit("/", 1)[-1]
    return ""


def write_timeline(answers: list[Answer], origin: float, path: Path) -> None:
    """Write every answer (times in seconds from `origin`) as CSV, for reading a stall."""
    rows = ["sent_s,done_s,status,problem,partition,ce_id"]
    rows += [
        f"{a.sent - origin:.3f},{a.done - origin:.3f},{a.status},{a.problem},"
        f"{'' if a.partition is None else a.partition},{a.ce_id}"
        for a in sorted(answers, key=lambda a: a.sent)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def longest_gap(times: list[float], start: float, end: float) -> float:
    """Return the longest time within (start, end] without one of `times` (sorted), counting
    from the last one at or before `start` and up to `end` (a stall still going on counts)."""
    before = [t for t in times if t <= start]
    edges = [before[-1] if before else start, *[t for t in times if start < t <= end], end]
    return max(b - a for a, b in itertools.pairwise(edges))


def stall_figures(answers: list[Answer], start: float, end: float) -> dict[str, Any]:
    """Measure, between `start` and `end`: the longest time without any 202, the same for each
    partition of the topic (a partition whose leader froze may stall while the others go on)
    and the slowest 202."""
    accepted = sorted((a for a in answers if a.status == 202), key=lambda a: a.done)
    per_partition = {
        str(p): round(longest_gap([a.done for a in accepted if a.partition == p], start, end), 3)
        for p in sorted({a.partition for a in accepted if a.partition is not None})
    }
    slowest = max((a.done - a.sent for a in accepted if start < a.done <= end), default=0.0)
    refused: dict[str, int] = {}
    for a in answers:
        if a.status != 202 and start < a.done <= end:
            what = f"{a.status} {a.problem}".strip()
            refused[what] = refused.get(what, 0) + 1
    overall = round(longest_gap([a.done for a in accepted], start, end), 3)
    return {
        "stall_s": max([overall, *per_partition.values()]),  # the worst partition's
        "longest_gap_without_202_s": overall,
        "longest_gap_per_partition_s": per_partition,
        "slowest_202_s": round(slowest, 3),
        "non_202_answers": refused,
    }


async def busiest_partition(kafka: KafkaSettings, topic: str) -> int:
    """Return the partition of `topic` holding the most records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            parts = [TopicPartition(topic, p) for p in range(3)]
        ends = await consumer.end_offsets(parts)
        return max(ends, key=lambda tp: ends[tp]).partition
    finally:
        await consumer.stop()


async def fully_replicated(kafka: KafkaSettings, topics: list[str], timeout_s: float) -> None:
    """Wait until every partition of `topics` has three in-sync replicas again."""
    deadline = time.monotonic() + timeout_s
    short: list[str] = []
    while time.monotonic() < deadline:
        client = AIOKafkaClient(bootstrap_servers=kafka.bootstrap_servers)
        try:
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
            found = metadata._partitions  # aiokafka keeps the ISR only here
            short = [f"{t} missing" for t in topics if not found.get(t)] + [
                f"{topic}[{meta.partition}] isr={meta.isr}"
                for topic in topics
                for meta in found.get(topic, {}).values()
                if len(meta.isr) < 3
            ]
            if not short:
                return
        except Exception as exc:  # a broker still starting: ask again
            short = [repr(exc)]
        finally:
            await client.close()
        await asyncio.sleep(0.5)
    raise AssertionError(f"replicas not back in sync within {timeout_s:.0f}s: {short}")


async def read_ids(kafka: KafkaSettings, topic: str) -> list[str]:
    """Read `topic` to its current end; return the ce_id of every record, in order read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    ids: list[str] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                ids += [dict(r.headers)["ce_id"].decode() for r in records]
    finally:
        await consumer.stop()
    return ids


class Collector:
    """One `python -m ioc_collector` process on its own port, consuming the data topic."""

    def __init__(self, kafka: KafkaSettings, topics: Topics, folder: Path, name: str) -> None:
        kpis, contracts = folder / "kpis", folder / "contracts"
        for made in (kpis, contracts):
            made.mkdir(parents=True, exist_ok=True)
        (kpis / "dossiers.yaml").write_text(KPI.format(topic=topics.data), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"collector-{name}.log"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "IOC_COLLECTOR_PORT": str(self.port),
            "IOC_COLLECTOR_INSTANCE_ID": name,
            "IOC_COLLECTOR_TOPICS": json.dumps([topics.data]),
            "IOC_COLLECTOR_GROUP_ID": "ioc-fault-suite",
            "IOC_COLLECTOR_KPIS_DIR": str(kpis),
            "IOC_COLLECTOR_CONTRACTS_DIR": str(contracts),
            "IOC_COLLECTOR_STORE_PATH": str(folder / "state.sqlite3"),
            "IOC_COLLECTOR_REGISTRY_TOPIC": topics.registry,
            "IOC_COLLECTOR_DLQ_TOPIC": topics.dlq,
            "IOC_COLLECTOR_KPI_TOPIC": topics.kpi,
            "IOC_COLLECTOR_COMMIT_INTERVAL_MS": "0",
            "IOC_COLLECTOR_SESSION_TIMEOUT_MS": "6000",
            "IOC_COLLECTOR_HEARTBEAT_INTERVAL_MS": "1000",
            "IOC_COLLECTOR_LOG_JSON": "false",
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ioc_collector"], env=env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        """SIGKILL the process: no shutdown, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Stop the process if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    async def figures(self, http: httpx.AsyncClient) -> dict[str, Any]:
        """Return events seen, dossiers counted and duplicates skipped (empty while starting)."""
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            window = "from=2024-10-01T00:00:00%2B07:00&to=2024-10-02T00:00:00%2B07:00"
            series = (
                await http.get(
                    f"{self.url}/v1/kpis/dossiers/series?{window}", headers=VIEWER_HEADERS
                )
            ).json()
            tiles = {
                t["id"]: t
                for t in (await http.get(f"{self.url}/v1/kpis", headers=VIEWER_HEADERS)).json()[
                    "kpis"
                ]
            }
            counts = (
                await http.get(f"{self.url}/v1/streams/counts", headers=VIEWER_HEADERS)
            ).json()
            return {
                "events": sum(s["events"] for s in counts["sources"]),
                "dossiers": sum(p["value"] or 0 for p in series["points"]),
                "duplicates": tiles["dossiers"]["duplicate_events"],
            }
        return {}
