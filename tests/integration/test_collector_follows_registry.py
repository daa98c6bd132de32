"""The collector follows the registry at runtime, on the real broker, without a restart.

- A source registered at runtime for a topic the collector has never heard of: its topic is
  consumed within seconds, and its health goes NOT_CONSUMED → OK with the right counts
  (including events published before it was registered).
- A KPI pushed to the registry at runtime is served with the values of an independent count
  that includes the events published before the KPI existed (backfill); a second replica of
  the same group started mid-test serves the same values; an invalid KPI is skipped (listed,
  counted) while the collector keeps serving; a KPI removed stops being served and its state
  leaves the store.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from ioc_collector.adapters.state_and_positions_store import StateStore
from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, publish_viewer

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(150)]
ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts/topics/tthc.dossier.v1"
SCHEMA = json.loads((CONTRACT / "v1.schema.json").read_text())
VALID = json.loads((CONTRACT / "examples/valid/online-submitted-province.json").read_text())
DISTRICTS = ["747", "748", "750"]
SEED = """id: seed-count
title_vi: Hồ sơ (mẫu)
title_en: Dossiers (seed)
topic: {topic}
measure: {{kind: count}}
window: month
unit: dossiers
"""


def online_by_district(topic: str) -> dict[str, Any]:
    """Return the KPI pushed at runtime: online submissions per district, per month."""
    return {
        "id": "online-by-district", "title_vi": "Hồ sơ trực tuyến theo huyện",
        "title_en": "Online dossiers by district", "topic": topic,
        "filter": {"where": [{"field": "channel", "op": "eq", "value": "online"}]},
        "measure": {"kind": "count"}, "dimensions": ["district_code"],
        "time_field": "submitted_at", "window": "month", "idle_timeout": "P3650D",
        "unit": "dossiers", "version": 1, "status": "active",
    }  # fmt: skip


@dataclass
class Env:
    kafka: KafkaSettings
    registry: str
    topic: str
    store: str
    settings: CollectorSettings


@pytest.fixture
async def env(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> Env:
    """Topics of their own, a contracts folder with the dossier contract, a one-KPI seed."""
    topic = await topic_factory("edu")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_viewer(kafka_settings, registry)  # the figures are read as a viewer
    contract = tmp_path / "contracts" / "topics" / topic
    contract.mkdir(parents=True)
    (contract / "v1.schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "seed-count.yaml").write_text(SEED.format(topic=topic))
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=tmp_path / "contracts", kpis_dir=tmp_path / "kpis",
        group_id=f"ioc-{topic}", store_url=collector_store_url, registry_topic=registry,
        dlq_topic=await topic_factory("dlq"), kpi_topic=await topic_factory("kpi"),
        tick_interval_s=0.1, lag_interval_s=0.5, session_timeout_ms=6000,
        heartbeat_interval_ms=500, instance_id="a",
    )  # fmt: skip
    return Env(kafka_settings, registry, topic, settings.store_database_url(), settings)


async def register(env: Env, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
    """Publish one registry change (None: a deletion)."""
    await publish_registry_changes(env.kafka, env.registry, [(kind, entity_id, data)])


def source(topic: str, status: str = "active") -> dict[str, Any]:
    return {"id": "sgd-enrol", "organisation_id": "sgddt", "topic": topic,
            "name": "Sở Giáo dục và Đào tạo", "cadence": "realtime", "status": status,
            "created_at": datetime.now(UTC).isoformat()}  # fmt: skip


async def publish(kafka: KafkaSettings, topic: str, first: int, count: int) -> list[dict[str, Any]]:
    """Send `count` dossiers (districts and channels varied); return their payloads."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    sent = []
    try:
        for n in range(first, first + count):
            payload = {**VALID, "dossier_id": f"GD-{n:05d}", "district_code": DISTRICTS[n % 3],
                       "channel": "online" if n % 4 else "paper"}  # fmt: skip
            event = CloudEvent(
                id=str(uuid.uuid4()),
                source="/sources/sgd-enrol",
                type="vn.gov.lgsp.tthc.dossier.submitted",
                data=payload,
            )
            record = to_kafka(event, payload["dossier_id"], carrier={})
            await producer.send_and_wait(topic, record.value, key=record.key,
                                         headers=record.headers)  # fmt: skip
            sent.append(payload)
    finally:
        await producer.stop()
    return sent


def expected(sent: list[dict[str, Any]]) -> dict[str, int]:
    """The independent figure: online dossiers per district."""
    return dict(Counter(p["district_code"] for p in sent if p["channel"] == "online"))


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 40) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached; last: {last}")


async def health_row(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    rows = (await http.get(url + "/v1/sources/health")).json()["sources"]
    return next((row for row in rows if row["id"] == "sgd-enrol"), None)


async def test_a_source_registered_at_runtime_is_consumed_and_its_health_is_true(
    env: Env,
) -> None:
    before = await publish(env.kafka, env.topic, 0, 5)  # before the source exists anywhere
    async with (
        serve(create_app(env.settings)) as url,
        httpx.AsyncClient(timeout=10, headers=VIEWER_HEADERS) as http,
    ):
        assert await health_row(http, url) is None
        await register(env, "source", "sgd-enrol", source(env.topic))
        registered = time.monotonic()
        statuses: list[str] = []

        async def ok_with_counts() -> bool:
            row = await health_row(http, url)
            if row is not None and (not statuses or statuses[-1] != row["status"]):
                statuses.append(row["status"])
            return row is not None and row["status"] == "OK" and row["events_total"] == 5

        await until(ok_with_counts, "the new source consumed", timeout_s=20)
        assert time.monotonic() - registered < 15, "consumed within seconds"
        assert statuses[0] == "NOT_CONSUMED", statuses
        assert set(statuses) <= {"NOT_CONSUMED", "OK"}, statuses
        row = await health_row(http, url)
        assert row is not None and row["last_event_at"] is not None  # from the topic itself
        more = await publish(env.kafka, env.topic, 5, 3)

        async def eight() -> bool:
            row = await health_row(http, url)
            return row is not None and row["events_total"] == len(before) + len(more)

        await until(eight, "the new events counted")
        await register(env, "source", "sgd-enrol", source(env.topic, "suspended"))

        async def not_expected() -> bool:
            row = await health_row(http, url)
            return row is not None and row["status"] == "NOT_EXPECTED"

        await until(not_expected, "a suspended source no longer expected")


async def tiles(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    return {tile["id"]: tile for tile in (await http.get(url + "/v1/kpis")).json()["kpis"]}


async def served(http: httpx.AsyncClient, url: str) -> dict[str, int] | None:
    """The runtime KPI's figures per district, once its backfill is over; None before."""
    tile = (await tiles(http, url)).get("online-by-district")
    if tile is None or tile["backfill"] is not None:
        return None
    window = tile["current"]["window_start"]
    found = {}
    for district in DISTRICTS:
        answer = await http.get(url + "/v1/kpis/online-by-district/series",
                                params={"from": window, "district_code": district})  # fmt: skip
        points = [p for p in answer.json()["points"] if p["window_start"] == window]
        if points and points[0]["value"] is not None:
            found[district] = int(points[0]["value"])
    return found


async def stored_kpis(env: Env) -> set[str]:
    """Every KPI id held in the committed state of the topic's partitions (either store)."""
    store = StateStore(env.store, env.settings.group_id, writer="test-reader")
    await store.open()
    try:
        rows = (await store.load_all(ids=False)).values()
        return {
            kpi
            for row in rows
            if row.topic == env.topic
            for kpi in json.loads(row.aggregation)["kpis"]
        }
    finally:
        await store.close()


async def test_a_kpi_pushed_at_runtime_is_backfilled_served_by_replicas_and_removed(
    env: Env,
) -> None:
    await register(env, "source", "sgd-enrol", source(env.topic))
    sent = await publish(env.kafka, env.topic, 0, 40)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=10, headers=VIEWER_HEADERS)
        )
        first = await stack.enter_async_context(serve(create_app(env.settings)))

        async def seed_counted() -> bool:
            tile = (await tiles(http, first)).get("seed-count")
            return tile is not None and tile["current"]["value"] == 40

        await until(seed_counted, "the seed KPI over the first events")
        misspelt = {"kind": "sum", "feild": "x"}
        broken = {**online_by_district(env.topic), "id": "broken", "measure": misspelt}
        await register(env, "kpi", "online-by-district", online_by_district(env.topic))
        await register(env, "kpi", "broken", broken)
        sent += await publish(env.kafka, env.topic, 40, 20)  # while the backfill runs

        async def served_from_the_start(url: str) -> Any:
            return await served(http, url) == expected(sent) or None

        await until(partial(served_from_the_start, first), "the runtime KPI, backfilled")
        catalogue = (await http.get(first + "/v1/kpis")).json()
        assert {tile["id"] for tile in catalogue["kpis"]} == {"online-by-district"}
        assert [item["id"] for item in catalogue["skipped"]] == ["broken"]
        metrics = (await http.get(first + "/metrics")).text
        assert "collector_kpi_definitions_invalid_total 1.0" in metrics

        second_settings = env.settings.model_copy(update={"instance_id": "b"})
        second = await stack.enter_async_context(serve(create_app(second_settings)))
        sent += await publish(env.kafka, env.topic, 60, 30)
        for url in (first, second):
            await until(partial(served_from_the_start, url), f"the figures on {url}")

        await register(env, "kpi", "online-by-district", None)
        for url in (first, second):

            async def gone(url: str = url) -> bool:
                answer = await http.get(url + "/v1/kpis/online-by-district/series")
                return "online-by-district" not in await tiles(http, url) and (
                    answer.status_code == 404
                )

            await until(gone, f"the removed KPI gone from {url}")
        await publish(env.kafka, env.topic, 90, 2)  # the partitions commit again

        async def dropped() -> bool:
            return await stored_kpis(env) == set()

        await until(dropped, "state dropped")
        assert (await http.get(first + "/readyz")).status_code == 200
