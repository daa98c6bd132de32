"""The collector's API against the real broker: poison records, KPI catalogue and series, SSE,
the `ioc.kpi` snapshots, source health (LATE then SILENT), rejections and lag."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ioc_collector.adapters.lag import LagProbe
from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text())
VALID = json.loads(
    (
        ROOT / "contracts/topics/tthc.dossier.v1/examples/valid/online-submitted-province.json"
    ).read_text()
)
KPI = """id: submitted
title_vi: Hồ sơ nộp
title_en: Dossiers submitted
topic: {topic}
measure: {{kind: count}}
dimensions: [district_code]
time_field: submitted_at
window: month
idle_timeout: P3650D
target: {{value: 3, direction: gte}}
unit: dossiers
"""


@dataclass
class Env:
    """A collector over real HTTP with per-test topics and a contract for its data topic."""

    url: str
    kafka: KafkaSettings
    topic: str
    dlq: str
    kpi_topic: str
    registry: str


def write_files(root: Path, topic: str) -> tuple[Path, Path]:
    """Write a contracts folder (the dossier contract under the test topic) and one KPI."""
    contract = root / "contracts" / "topics" / topic
    contract.mkdir(parents=True)
    (contract / "v1.schema.json").write_text(json.dumps(SCHEMA))
    kpis = root / "kpis"
    kpis.mkdir()
    (kpis / "submitted.yaml").write_text(KPI.format(topic=topic))
    return root / "contracts", kpis


def registered_sources(topic: str, created_at: str) -> list[Any]:
    """Return a realtime source that will go quiet and a daily one never heard from."""
    return [
        ("source", "dvc-portal", {"id": "dvc-portal", "organisation_id": "vp-ubnd", "topic": topic,
                                  "name": "Cổng dịch vụ công", "cadence": "realtime",
                                  "status": "active", "created_at": created_at}),
        ("source", "stc-kbnn", {"id": "stc-kbnn", "organisation_id": "stc", "topic": "x.y.v1",
                                "name": "Kho bạc", "cadence": "daily", "status": "active",
                                "created_at": created_at}),
    ]  # fmt: skip


@pytest.fixture
async def env(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> AsyncIterator[Env]:
    """Start a collector with 2 s / 4 s realtime thresholds and two registered sources."""
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    dlq, kpi_topic = await topic_factory("dlq"), await topic_factory("kpi")
    await publish_registry_changes(
        kafka_settings,
        registry,
        [*registered_sources(topic, datetime.now(UTC).isoformat()), viewer_change()],
    )
    contracts, kpis = write_files(tmp_path, topic)
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=contracts, kpis_dir=kpis, topics=[topic],
        group_id=f"ioc-{topic}", store_url=collector_store_url, registry_topic=registry,
        dlq_topic=dlq, kpi_topic=kpi_topic, tick_interval_s=0.2, lag_interval_s=0.5,
        health_thresholds={"realtime": {"late": 2, "silent": 4}},
    )  # fmt: skip
    async with serve(create_app(settings)) as url:
        yield Env(url, kafka_settings, topic, dlq, kpi_topic, registry)


def dossier(n: int, **changes: Any) -> dict[str, Any]:
    """Return a valid dossier payload (a submission of September 2024)."""
    return {**VALID, "dossier_id": f"H03-{n:06d}", **changes}


async def send(
    kafka: KafkaSettings, topic: str, records: list[tuple[bytes, list[tuple[str, bytes]]]]
) -> None:
    """Produce raw (value, headers) records."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()


def event(payload: dict[str, Any], source: str = "/sources/dvc-portal") -> tuple[bytes, Any]:
    """Return a binary-mode CloudEvent record."""
    record = to_kafka(
        CloudEvent(id=str(uuid.uuid4()), source=source, type="vn.gov.lgsp.tthc.dossier.submitted",
                   data=payload),
        payload["dossier_id"], carrier={},
    )  # fmt: skip
    return record.value, record.headers


async def until(
    check: Callable[[], Awaitable[Any]], timeout_s: float = 20, what: str = "condition"
) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached; last: {last}")


async def tile(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """Return the test KPI's tile."""
    kpis = (await http.get(url + "/v1/kpis")).json()["kpis"]
    return next(k for k in kpis if k["id"] == "submitted")


async def test_poison_records_are_counted_and_skipped(env: Env) -> None:
    valid_after = event(dossier(2))
    bad_contract = event(dossier(3, channel="fax"))
    await send(env.kafka, env.topic, [
        event(dossier(1)),
        (b"{not json", []),
        (b'{"dossier_id": "x"}', [("content-type", b"application/json")]),  # no ce_* headers
        bad_contract,
        valid_after,
    ])  # fmt: skip
    async with httpx.AsyncClient(base_url=env.url, headers=VIEWER_HEADERS) as http:

        async def counted() -> Any:
            body = (await http.get("/v1/streams/counts")).json()
            done = sum(s["events"] for s in body["sources"]) == 2
            return body if body["undecodable"].get(env.topic) == 3 and done else None

        body = await until(counted, what="3 poison records and 2 events counted")
        assert body["sources"] == [
            {"topic": env.topic, "source": "/sources/dvc-portal", "events": 2}
        ]
        health = (await http.get("/v1/sources/health")).json()
        topic = next(t for t in health["topics"] if t["topic"] == env.topic)
        assert topic["poison"] == {"not_json": 1, "not_cloudevent": 1, "contract": 1}
        assert (await tile(http, env.url))["current"]["value"] == 2  # the loop went on
        metrics = (await http.get("/metrics")).text
        for reason in ("not_json", "not_cloudevent", "contract"):
            line = f'collector_poison_records_total{{reason="{reason}",topic="{env.topic}"}} 1.0'
            assert line in metrics


async def test_catalogue_series_and_snapshots_follow_the_events(env: Env) -> None:
    await send(env.kafka, env.topic, [
        event(dossier(1, district_code="747")),
        event(dossier(2, district_code="747")),
        event(dossier(3, district_code="748")),
    ])  # fmt: skip
    async with httpx.AsyncClient(base_url=env.url, headers=VIEWER_HEADERS) as http:

        async def three() -> Any:
            found = await tile(http, env.url)
            return found if found["current"]["value"] == 3 else None

        found = await until(three, what="3 dossiers in the tile")
        assert found["title_vi"] == "Hồ sơ nộp" and found["title_en"] == "Dossiers submitted"
        assert found["current"]["status"] == "met"
        assert found["current"]["window_start"] == "2024-09-01T00:00:00+07:00"
        assert found["target"] == {"value": 3.0, "direction": "gte", "source": None}
        series = (
            await http.get(
                "/v1/kpis/submitted/series",
                params={"from": "2024-08", "to": "2024-11", "district_code": "747"},
            )
        ).json()
        assert [p["value"] for p in series["points"]] == [None, 2.0, None]
        assert series["dimension_values"] == {"district_code": ["747", "748"]}
        missing = await http.get("/v1/kpis/nope/series")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        bad = await http.get("/v1/kpis/submitted/series", params={"from": "yesterday"})
        assert bad.status_code == 422
    snapshots = await until(lambda: read_snapshots(env.kafka, env.kpi_topic), what="snapshots")
    assert snapshots["submitted|2024-09-01T00:00:00+07:00|*"]["value"] == 3
    assert snapshots['submitted|2024-09-01T00:00:00+07:00|["748"]']["dims"] == {
        "district_code": "748"
    }


async def read_snapshots(kafka: KafkaSettings, topic: str) -> dict[str, Any]:
    """Return the latest snapshot per key on the `ioc.kpi` topic (empty until the value is 3)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    latest: dict[str, Any] = {}
    try:
        batches = await consumer.getmany(timeout_ms=1000)
        for records in batches.values():
            for record in records:
                latest[record.key.decode()] = json.loads(record.value)
    finally:
        await consumer.stop()
    total = latest.get("submitted|2024-09-01T00:00:00+07:00|*", {})
    return latest if total.get("value") == 3 else {}


async def test_live_stream_sends_kpi_changes(env: Env) -> None:
    async with (
        httpx.AsyncClient(base_url=env.url, timeout=30, headers=VIEWER_HEADERS) as http,
        http.stream("GET", "/v1/stream") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()

        async def next_event(name: str) -> dict[str, Any]:
            current = None
            async for line in lines:
                if line.startswith("event: "):
                    current = line.removeprefix("event: ")
                elif line.startswith("data: ") and current == name:
                    return dict(json.loads(line.removeprefix("data: ")))
            raise AssertionError("stream ended")

        first = await asyncio.wait_for(next_event("kpis"), 10)
        assert [k["current"]["value"] for k in first["kpis"]] == [None]
        await send(env.kafka, env.topic, [event(dossier(1))])
        changed = await asyncio.wait_for(next_event("kpis"), 15)
        assert [k["current"]["value"] for k in changed["kpis"]] == [1.0]


async def test_source_turns_late_then_silent_and_rejections_are_counted(env: Env) -> None:
    dead_letter = {
        "event_id": "e1", "original_topic": env.topic, "source": "/sources/dvc-portal",
        "received_at": datetime.now(UTC).isoformat(), "payload_truncated": False, "payload": "{}",
        "reasons": [{"pointer": "/channel", "rule": "enum", "message": "not allowed"}],
    }  # fmt: skip
    await send(env.kafka, env.dlq, [(json.dumps(dead_letter).encode(), [])])
    await send(env.kafka, env.topic, [event(dossier(1))])
    sent_at = time.monotonic()
    statuses: list[tuple[float, str]] = []
    async with httpx.AsyncClient(base_url=env.url, headers=VIEWER_HEADERS) as http:

        async def portal() -> dict[str, Any]:
            rows = (await http.get("/v1/sources/health")).json()["sources"]
            return next(r for r in rows if r["id"] == "dvc-portal")

        async def silent() -> Any:
            row = await portal()
            if row["events_total"] == 1 and row["rejected"] == 1:
                statuses.append((time.monotonic() - sent_at, row["status"]))
            return row["status"] == "SILENT" and row["events_total"] == 1

        await until(silent, timeout_s=15, what="SILENT")
        row = await portal()
        rows = (await http.get("/v1/sources/health")).json()["sources"]
    seen = [status for _, status in statuses]
    assert seen[0] == "OK" and "LATE" in seen and seen[-1] == "SILENT", statuses
    first_late = next(t for t, s in statuses if s == "LATE")
    first_silent = next(t for t, s in statuses if s == "SILENT")
    assert 1.5 <= first_late < 4.5 and 3.5 <= first_silent < 7, statuses
    assert row["name"] == "Cổng dịch vụ công" and row["cadence"] == "realtime"
    assert row["events_per_minute"] > 0 and row["last_event_at"] is not None
    assert (row["late_after_s"], row["silent_after_s"]) == (2.0, 4.0)
    daily = next(r for r in rows if r["id"] == "stc-kbnn")
    # Registered, but its topic is not among the collector's: not collected, never "OK".
    wanted = ("NOT_CONSUMED", 0, 93600.0)
    assert (daily["status"], daily["events_total"], daily["late_after_s"]) == wanted


async def test_lag_in_records_and_seconds(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("lag", 1)
    await send(kafka_settings, topic, [(b"{}", [])] * 5)
    await asyncio.sleep(1.2)
    probe = LagProbe(kafka_settings, "lag-test")
    await probe.start()
    try:
        await probe.measure([topic], {(topic, 0): 2})
        behind = probe.latest[(topic, 0)]
        await probe.measure([topic], {(topic, 0): 5})
        caught_up = probe.latest[(topic, 0)]
    finally:
        await probe.stop()
    assert behind.records == 3 and 1.0 <= behind.seconds < 30
    assert (caught_up.records, caught_up.seconds) == (0, 0.0)
    assert timedelta(seconds=behind.seconds) < timedelta(minutes=1)
