"""The collector processes, the known stream and its expected KPIs, shared by the exactly-once
tests (`test_collector_exactly_once.py`, `test_collector_zombie.py`).

A known stream (with duplicates and late events) is written to a topic of the test's own; the
expected KPIs are computed from it with plain Python: per partition, a watermark that is the
largest event time seen; an event is late when its hour window ended more than the allowed
lateness before that watermark; a repeated event id is counted once. The collectors run as
`python -m ioc_collector` processes sharing one store: a SQLite file, then a PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory
from lgsp_devkit.viewers import registry_with_viewer

VN = timezone(timedelta(hours=7))
START = datetime(2024, 10, 1, 8, 0, tzinfo=VN)
LATENESS = timedelta(minutes=30)
PARTITIONS = 4
DISTRICTS = ["747", "748", "750", "751", "752"]
KPIS = {
    "dossiers": "measure: {kind: count}\ndimensions: [district_code]\nunit: dossiers\n",
    "fees": "measure: {kind: sum, field: fee_vnd}\nunit: VND\n",
    "districts": "measure: {kind: distinct_count, field: district_code}\nunit: districts\n",
    "online-rate": (
        "measure:\n  kind: ratio\n  numerator: {kind: count, filter: {where: "
        "[{field: channel, op: eq, value: online}]}}\n  denominator: {kind: count}\n"
        "target: {value: 40, direction: gte}\nunit: '%'\n"
    ),
}


@dataclass(frozen=True)
class Sent:
    """One record of the known stream."""

    partition: int
    event_id: str
    at: datetime
    payload: dict[str, Any]


def known_stream(seed: int, count: int) -> list[Sent]:
    """Return a stream in send order: mostly advancing time, ~6% duplicates, ~4% late events."""
    rng = random.Random(seed)
    stream: list[Sent] = []
    clock = START
    for n in range(count):
        roll = rng.random()
        if stream and roll < 0.06:
            stream.append(rng.choice(stream[-200:]))  # the same record sent again
            continue
        clock += timedelta(seconds=rng.randint(1, 12))
        at = (
            clock - timedelta(hours=2)
            if roll < 0.10
            else clock - timedelta(minutes=rng.randint(0, 20))
        )
        payload = {
            "dossier_id": f"D-{n:05d}",
            "district_code": rng.choice(DISTRICTS),
            "channel": rng.choice(["online", "online", "paper"]),
            "fee_vnd": rng.randint(0, 500) * 1000,
            "at": at.isoformat(),
        }
        stream.append(Sent(rng.randrange(PARTITIONS), f"evt-{n:05d}", at, payload))
    return stream


def hour_of(at: datetime) -> datetime:
    """Return the start of the Vietnam-time hour containing `at`."""
    return at.astimezone(VN).replace(minute=0, second=0, microsecond=0)


@dataclass
class Expected:
    """KPI figures computed from the stream with plain Python."""

    dossiers: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    by_district: dict[tuple[datetime, str], int] = field(default_factory=lambda: defaultdict(int))
    fees: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    districts: dict[datetime, set[str]] = field(default_factory=lambda: defaultdict(set))
    online: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    late: int = 0
    duplicates: int = 0


def expected_kpis(stream: list[Sent]) -> Expected:
    """Apply the documented rules: per-partition watermark, lateness, dedup by event id."""
    result = Expected()
    watermark: dict[int, datetime] = {}
    applied: set[str] = set()
    for sent in stream:
        mark = max(watermark.get(sent.partition, sent.at), sent.at)
        watermark[sent.partition] = mark
        hour = hour_of(sent.at)
        if hour + timedelta(hours=1) + LATENESS <= mark:
            result.late += 1
            continue
        if sent.event_id in applied:
            result.duplicates += 1
            continue
        applied.add(sent.event_id)
        district = sent.payload["district_code"]
        result.dossiers[hour] += 1
        result.by_district[(hour, district)] += 1
        result.fees[hour] += sent.payload["fee_vnd"]
        result.districts[hour].add(district)
        result.online[hour] += sent.payload["channel"] == "online"
    return result


@dataclass
class Setup:
    """Topics, files and environment shared by the collector processes of one test."""

    topic: str
    env: dict[str, str]
    logs: Path
    store_url: str


def write_kpis(folder: Path, topic: str) -> Path:
    """Write the test's KPI catalogue for `topic`."""
    folder.mkdir()
    for kpi_id, body in KPIS.items():
        (folder / f"{kpi_id}.yaml").write_text(
            f"id: {kpi_id}\ntitle_vi: {kpi_id} (vi)\ntitle_en: {kpi_id}\ntopic: {topic}\n"
            f"time_field: at\nwindow: hour\nallowed_lateness: PT30M\nidle_timeout: P3650D\n{body}"
        )
    return folder


@pytest.fixture
async def setup(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811
) -> Setup:
    """Create the per-test topics and the collector environment: one shared store, a SQLite
    file, then a PostgreSQL database."""
    topic = await topic_factory("tthc", PARTITIONS)
    registry = await registry_with_viewer(topic_factory, kafka_settings)  # a viewer reads
    dlq, kpi_topic = await topic_factory("dlq"), await topic_factory("kpi")
    (tmp_path / "contracts").mkdir()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "IOC_COLLECTOR_TOPICS": json.dumps([topic]),
        "IOC_COLLECTOR_GROUP_ID": f"ioc-{topic}",
        "IOC_COLLECTOR_KPIS_DIR": str(write_kpis(tmp_path / "kpis", topic)),
        "IOC_COLLECTOR_CONTRACTS_DIR": str(tmp_path / "contracts"),
        "IOC_COLLECTOR_STORE_URL": collector_store_url,
        "IOC_COLLECTOR_REGISTRY_TOPIC": registry,
        "IOC_COLLECTOR_DLQ_TOPIC": dlq,
        "IOC_COLLECTOR_KPI_TOPIC": kpi_topic,
        "IOC_COLLECTOR_MAX_BATCH": "20",
        "IOC_COLLECTOR_COMMIT_INTERVAL_MS": "0",
        "IOC_COLLECTOR_SESSION_TIMEOUT_MS": "6000",
        "IOC_COLLECTOR_HEARTBEAT_INTERVAL_MS": "1000",
        "IOC_COLLECTOR_TICK_INTERVAL_S": "0.5",
        "IOC_COLLECTOR_LOG_JSON": "false",
    }
    (tmp_path / "logs").mkdir()
    return Setup(topic, env, tmp_path / "logs", collector_store_url)


class Collector:
    """One `python -m ioc_collector` process on its own port."""

    def __init__(self, setup: Setup, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = setup.logs / f"{name}.log"
        env = {**setup.env, "IOC_COLLECTOR_PORT": str(self.port), "IOC_COLLECTOR_INSTANCE_ID": name}
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


async def consumed(http: httpx.AsyncClient, collector: Collector) -> int:
    """Return how many events the collector reports as consumed (0 while it starts)."""
    with contextlib.suppress(httpx.HTTPError):
        answer = await http.get(collector.url + "/v1/streams/counts", timeout=2)
        if answer.status_code == 200:
            return sum(s["events"] for s in answer.json()["sources"])
    return 0


async def produce(kafka: KafkaSettings, topic: str, stream: list[Sent], seconds: float) -> None:
    """Send the stream to fixed partitions, spread over about `seconds`."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        chunk = max(1, len(stream) // int(seconds * 10))
        for start in range(0, len(stream), chunk):
            for sent in stream[start : start + chunk]:
                event = CloudEvent(
                    id=sent.event_id,
                    source="/sources/dvc-test",
                    type="t.dossier",
                    data=sent.payload,
                )
                record = to_kafka(event, sent.payload["dossier_id"], carrier={})
                await producer.send(
                    topic,
                    record.value,
                    key=record.key,
                    headers=record.headers,
                    partition=sent.partition,
                )
            await producer.flush()
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()


async def observed(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """Read the KPI figures of 2024-10-01 from the API, in the shape of `Expected`."""
    window = "from=2024-10-01T00:00:00%2B07:00&to=2024-10-02T00:00:00%2B07:00"
    found: dict[str, Any] = {}
    for kpi_id in KPIS:
        body = (await http.get(f"{url}/v1/kpis/{kpi_id}/series?{window}")).json()
        found[kpi_id] = {
            datetime.fromisoformat(p["window_start"]): p["value"]
            for p in body["points"]
            if p["value"] is not None
        }
    for district in DISTRICTS:
        body = (
            await http.get(f"{url}/v1/kpis/dossiers/series?{window}&district_code={district}")
        ).json()
        for p in body["points"]:
            if p["value"] is not None:
                found.setdefault("by_district", {})[
                    (datetime.fromisoformat(p["window_start"]), district)
                ] = p["value"]
    counts = (await http.get(f"{url}/v1/streams/counts")).json()
    found["events"] = sum(s["events"] for s in counts["sources"])
    tiles = {t["id"]: t for t in (await http.get(f"{url}/v1/kpis")).json()["kpis"]}
    found["late"] = tiles["dossiers"]["late_events"]
    found["duplicates"] = tiles["dossiers"]["duplicate_events"]
    return found


def as_expected(expected: Expected, stream: list[Sent]) -> dict[str, Any]:
    """Return the expected figures in the shape `observed` reads."""
    return {
        "events": len(stream),  # every record counted once in the source's volume
        "dossiers": {hour: float(n) for hour, n in expected.dossiers.items()},
        "fees": {hour: float(n) for hour, n in expected.fees.items()},
        "districts": {hour: float(len(s)) for hour, s in expected.districts.items()},
        "online-rate": {
            hour: expected.online[hour] * 100 / n for hour, n in expected.dossiers.items()
        },
        "by_district": {key: float(n) for key, n in expected.by_district.items()},
        "late": expected.late,
        "duplicates": expected.duplicates,
    }


def same_figures(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Compare exactly, except the ratio, compared to 1e-12 relative (float rounding only)."""
    if found.get("online-rate", {}).keys() != wanted["online-rate"].keys():
        return False
    ratios = all(
        found["online-rate"][h] == pytest.approx(v, rel=1e-12)
        for h, v in wanted["online-rate"].items()
    )
    rest = {k: v for k, v in wanted.items() if k != "online-rate"}
    return ratios and all(found.get(k) == v for k, v in rest.items())


async def wait_for_figures(
    http: httpx.AsyncClient, urls: list[str], wanted: dict[str, Any], timeout_s: float
) -> None:
    """Poll every collector until its figures equal the expected ones; fail with a diff."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, Any] = {}
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError):
            found = await observed(http, pending[0])
            if same_figures(found, wanted):
                pending.pop(0)
                continue
        await asyncio.sleep(0.5)
    if pending:
        diff = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        raise AssertionError(f"figures of {pending[0]} differ (found, expected): {diff}")


@contextlib.asynccontextmanager
async def collectors(setup: Setup) -> AsyncIterator[list[Collector]]:
    """Track started collectors and stop them all at the end."""
    started: list[Collector] = []
    try:
        yield started
    finally:
        for collector in started:
            collector.stop()


def log_tail(started: list[Collector]) -> Iterator[str]:
    """Yield the end of each collector's log, for failure messages."""
    for collector in started:
        yield f"--- {collector.log.name}\n{collector.log.read_text()[-2000:]}"
