"""A historical import on the real broker: a year of one source's history through the gateway's
batch endpoint (`lgsp-import-run`), every window checked against the ground truth, the run
re-sent without effect, and a genuine straggler counted late, not applied (issue 16)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
SOURCE = "tthc-portal"
TYPE = "vn.gov.lgsp.tthc.dossier.submitted"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:lgsp:test:dossier:v1",
    "type": "object",
    "x-lgsp": {"entityKey": "dossier_id"},
    "required": ["dossier_id", "channel", "submitted_at"],
    "additionalProperties": False,
    "properties": {
        "dossier_id": {"type": "string", "minLength": 1},
        "channel": {"enum": ["online", "paper"]},
        "submitted_at": {"type": "string", "format": "date-time"},
    },
}
KPI = """id: dossiers-per-day
title_vi: Hồ sơ nộp theo ngày
title_en: Dossiers submitted per day
topic: {topic}
measure: {{kind: count}}
dimensions: [channel]
time_field: submitted_at
window: day
allowed_lateness: PT1H
idle_timeout: PT15M
unit: dossiers
"""
RUN = "history-2025"


async def register(kafka: KafkaSettings, registry: str, topic: str) -> str:
    """Register the source on `topic` with SCHEMA as its contract; return its key."""
    key_id, key = new_api_key()
    source = {"id": SOURCE, "topic": topic, "status": "active", "cadence": "realtime"}
    contract = {"id": f"c-{topic}", "subject": topic, "version": 1, "schema": SCHEMA}
    api_key = {"id": key_id, "source_id": SOURCE, "key_hash": hash_api_key(key)}
    changes = [("source", SOURCE, source), ("contract", contract["id"], contract),
               ("api_key", key_id, api_key), viewer_change()]  # fmt: skip
    await publish_registry_changes(kafka, registry, changes)
    return key


def year_of_history(today: datetime) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Return a year of dossiers (1 to 5 a day, before today) and the count per local day."""
    rng = random.Random(16)
    events, truth = [], Counter[str]()
    for back in range(365, 0, -1):
        day = (today - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)
        for n in range(rng.randint(1, 5)):
            at = day + timedelta(hours=7 + n, minutes=rng.randint(0, 59))
            payload = {"dossier_id": f"H03-{back:03d}-{n}",
                       "channel": rng.choice(["online", "paper"]),
                       "submitted_at": at.isoformat()}  # fmt: skip
            events.append({"specversion": "1.0", "id": f"hist-{back}-{n}", "type": TYPE,
                           "time": at.isoformat(), "data": payload})  # fmt: skip
            truth[day.date().isoformat()] += 1
    return events, truth


async def import_run(http: httpx.AsyncClient, url: str, key: str, events: list[Any]) -> None:
    """Send the events as one import run, 500 per batch; every one must be accepted."""
    headers = {"x-api-key": key, "content-type": "application/cloudevents-batch+json",
               "lgsp-import-run": RUN}  # fmt: skip
    for start in range(0, len(events), 500):
        answer = await http.post(url, json=events[start : start + 500], headers=headers)
        assert answer.status_code == 202, answer.text


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 60) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def test_a_year_of_history_is_imported_once_and_a_straggler_stays_late(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> None:
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    key = await register(kafka_settings, registry, topic)
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "dossiers-per-day.yaml").write_text(KPI.format(topic=topic))
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, registry_topic=registry))
    collector = create_collector(
        CollectorSettings(
            kafka=kafka_settings, topics=[topic], group_id=f"ioc-{topic}",
            registry_topic=registry, kpis_dir=tmp_path / "kpis",
            store_url=collector_store_url, tick_interval_s=0.2,
        )
    )  # fmt: skip
    now = datetime.now(LOCAL)
    events, truth = year_of_history(now)
    async with (
        serve(gateway) as gw_url,
        serve(collector) as ioc_url,
        httpx.AsyncClient(base_url=ioc_url, timeout=30, headers=VIEWER_HEADERS) as ioc,
        httpx.AsyncClient(timeout=30) as http,
    ):
        batches = f"{gw_url}/v1/topics/{topic}/batches"
        live = {
            "specversion": "1.0",
            "id": "live-today",
            "type": TYPE,
            "data": {
                "dossier_id": "H03-live",
                "channel": "online",
                "submitted_at": now.isoformat(),
            },
        }
        headers = {"x-api-key": key, "content-type": "application/cloudevents-batch+json"}
        answer = await http.post(batches, json=[live], headers=headers)
        assert answer.status_code == 202, answer.text
        bad = await http.post(batches, json=[live], headers={**headers, "lgsp-import-run": "a b"})
        assert bad.status_code == 422, bad.text  # a malformed run id: the whole call refused

        started = time.monotonic()
        await import_run(http, batches, key, events)

        async def imported() -> dict[str, Any] | None:
            runs = (await ioc.get("/v1/imports")).json()["imports"]
            return runs[0] if runs and runs[0]["events"] >= len(events) else None

        run = await until(imported, "the import run to be read")
        seconds = time.monotonic() - started
        assert (run["run_id"], run["source"]) == (RUN, f"/sources/{SOURCE}")
        assert (run["applied"], run["duplicates"]) == (len(events), 0)
        assert run["kpis"][0]["applied"] == len(events) and run["kpis"][0]["refused"] == 0
        assert run["windows"] == len(truth)
        assert run["first_event_time"] is not None and run["last_event_time"] is not None

        async def series() -> dict[str, float | None]:
            since = (now - timedelta(days=366)).date().isoformat()
            answer = await ioc.get("/v1/kpis/dossiers-per-day/series", params={"from": since})
            assert answer.status_code == 200, answer.text
            points = answer.json()["points"]
            return {p["window_start"][:10]: p["value"] for p in points}

        found = await series()
        for day, count in truth.items():  # every historical window equals the ground truth
            assert found.get(day) == count, day
        assert found[now.date().isoformat()] == 1  # the live window, untouched by history
        print(f"imported {len(events)} events over {len(truth)} days in {seconds:.1f}s")

        await import_run(http, batches, key, events)  # the same run again

        async def resent() -> dict[str, Any] | None:
            runs = (await ioc.get("/v1/imports")).json()["imports"]
            return runs[0] if runs[0]["events"] >= 2 * len(events) else None

        again = await until(resent, "the re-sent run to be read")
        assert (again["applied"], again["duplicates"]) == (len(events), len(events))
        assert await series() == found  # nothing changed

        closed_day = (now - timedelta(days=100)).replace(hour=10)
        straggler = {"specversion": "1.0", "id": "straggler", "type": TYPE, "data": {
            "dossier_id": "H03-late", "channel": "paper",
            "submitted_at": closed_day.isoformat()}}  # fmt: skip
        answer = await http.post(batches, json=[straggler], headers=headers)
        assert answer.status_code == 202, answer.text

        async def late() -> dict[str, Any] | None:
            tiles = (await ioc.get("/v1/kpis")).json()["kpis"]
            return tiles[0] if tiles[0]["late_events"] >= 1 else None

        tile = await until(late, "the straggler to be counted late")
        assert tile["late_events"] == 1
        assert await series() == found  # counted late, not applied
