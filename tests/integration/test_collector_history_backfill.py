"""A historical import that a KPI pushed at runtime must backfill (issue 16).

The demo's registry used to receive its KPIs while a department's history was arriving, so the
collector met an import run on both of its paths: live (the KPIs it knew) and backfill (a KPI
added over records it had already read). Here, on the real broker and through the real gateway,
half a year of history is sent, then a month-window KPI is pushed to the registry mid-run, then
the rest of the run and live events follow. Every history window of both KPIs must equal the
ground truth, on every partition (the events are keyed by dossier, so they spread).
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_collector_history_import import KPI, LOCAL, TYPE, register, until

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka
RUN = "history-backfill"
MONTHLY = "online-per-month"


def monthly_kpi(topic: str) -> dict[str, Any]:
    """Return the KPI pushed mid-run: online dossiers per month (the demo's month windows)."""
    return {
        "id": MONTHLY, "title_vi": "Hồ sơ trực tuyến theo tháng",
        "title_en": "Online dossiers per month", "topic": topic,
        "filter": {"where": [{"field": "channel", "op": "eq", "value": "online"}]},
        "measure": {"kind": "count"}, "time_field": "submitted_at", "window": "month",
        "allowed_lateness": "P1D", "idle_timeout": "PT1H",
        "unit": "dossiers", "version": 1, "status": "active",
    }  # fmt: skip


def history(today: datetime) -> tuple[list[dict[str, Any]], Counter[str], Counter[str]]:
    """Return ~6 months of dossiers, their count per day and their online count per month."""
    rng = random.Random(1616)
    events: list[dict[str, Any]] = []
    daily, monthly = Counter[str](), Counter[str]()
    first = today - timedelta(days=190)  # the first month is only partly covered
    for back in range((today - first).days, 0, -1):
        day = (today - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)
        for n in range(rng.randint(2, 9)):
            at = day + timedelta(hours=6 + n, minutes=rng.randint(0, 59))
            channel = rng.choice(["online", "paper"])
            payload = {"dossier_id": f"H03-{back:03d}-{n}", "channel": channel,
                       "submitted_at": at.isoformat()}  # fmt: skip
            events.append({"specversion": "1.0", "id": f"h-{back}-{n}", "type": TYPE,
                           "time": at.isoformat(), "data": payload})  # fmt: skip
            daily[day.date().isoformat()] += 1
            if channel == "online":
                monthly[day.strftime("%Y-%m")] += 1
    return events, daily, monthly


async def send(
    http: httpx.AsyncClient, url: str, key: str, events: list[Any], run: str | None
) -> None:
    """Send events 250 per batch (an import run's if `run`); every one must be accepted."""
    headers = {"x-api-key": key, "content-type": "application/cloudevents-batch+json"}
    if run is not None:
        headers["lgsp-import-run"] = run
    for start in range(0, len(events), 250):
        answer = await http.post(url, json=events[start : start + 250], headers=headers)
        assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("steps", ["together", "one_at_a_time"])
async def test_a_kpi_pushed_mid_import_backfills_the_history_exactly(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    steps: str,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> None:
    """`together`: both KPIs reach the registry at once. `one_at_a_time`: the month KPI first
    (the seed's day KPI leaves the catalogue and its state is dropped), the day KPI a quarter of
    the run later (it is backfilled again over everything read so far), as a seed grows."""
    topic = await topic_factory("tthc", 3)
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    key = await register(kafka_settings, registry, topic)
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "dossiers-per-day.yaml").write_text(KPI.format(topic=topic))
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, registry_topic=registry))
    collector = create_collector(
        CollectorSettings(
            kafka=kafka_settings, topics=[topic], group_id=f"ioc-{topic}",
            registry_topic=registry, kpis_dir=tmp_path / "kpis",
            store_url=collector_store_url, tick_interval_s=0.2, max_batch=300,
        )
    )  # fmt: skip
    now = datetime.now(LOCAL)
    events, daily, monthly = history(now)
    half = len(events) // 2
    async with (
        serve(gateway) as gw_url,
        serve(collector) as ioc_url,
        httpx.AsyncClient(base_url=ioc_url, timeout=30, headers=VIEWER_HEADERS) as ioc,
        httpx.AsyncClient(timeout=30) as http,
    ):
        batches = f"{gw_url}/v1/topics/{topic}/batches"
        await send(http, batches, key, events[:half], RUN)

        async def read(count: int) -> dict[str, Any] | None:
            runs = (await ioc.get("/v1/imports")).json()["imports"]
            return runs[0] if runs and runs[0]["events"] >= count else None

        await until(lambda: read(half), "the first half of the run to be read")
        # The registry now says which KPIs are in force: the seed's day KPI (as the registry
        # holds it) and a month KPI that must be computed over what was already read.
        day_kpi: dict[str, Any] = {"id": "dossiers-per-day", "title_vi": "Hồ sơ nộp theo ngày",
                   "title_en": "Dossiers submitted per day", "topic": topic,
                   "measure": {"kind": "count"}, "dimensions": ["channel"],
                   "time_field": "submitted_at", "window": "day", "allowed_lateness": "PT1H",
                   "idle_timeout": "PT15M", "unit": "dossiers", "version": 1,
                   "status": "active"}  # fmt: skip
        day, month = ("kpi", day_kpi["id"], day_kpi), ("kpi", MONTHLY, monthly_kpi(topic))
        if steps == "together":
            await publish_registry_changes(kafka_settings, registry, [day, month])
            await send(http, batches, key, events[half:], RUN)  # the rest, maybe mid-backfill
        else:
            quarter = half + len(events) // 4
            await publish_registry_changes(kafka_settings, registry, [month])
            await send(http, batches, key, events[half:quarter], RUN)
            await publish_registry_changes(kafka_settings, registry, [day])
            await send(http, batches, key, events[quarter:], RUN)
        live = [{"specversion": "1.0", "id": f"live-{n}", "type": TYPE,
                 "data": {"dossier_id": f"H03-live-{n}", "channel": "paper",
                          "submitted_at": now.isoformat()}} for n in range(20)]  # fmt: skip
        await send(http, batches, key, live, None)
        run = await until(lambda: read(len(events)), "the whole run to be read")
        assert (run["applied"], run["duplicates"]) == (len(events), 0)

        async def series(kpi: str, since: datetime) -> dict[str, float | None] | None:
            answer = await ioc.get(f"/v1/kpis/{kpi}/series", params={"from": since.isoformat()})
            if answer.status_code != 200:
                return None
            points = answer.json()["points"]
            return {p["window_start"][:10]: p["value"] for p in points} or None

        def months_done(found: dict[str, float | None] | None) -> bool:
            return found is not None and all(
                found.get(f"{month}-01") == count for month, count in monthly.items()
            )

        first = now - timedelta(days=200)

        async def months_ready() -> dict[str, float | None] | None:
            found = await series(MONTHLY, first)
            return found if months_done(found) else None

        with contextlib.suppress(AssertionError):  # the comparison below shows what differs
            await until(months_ready, "the month KPI's backfill", 90)
        expected_months = {f"{month}-01": float(count) for month, count in monthly.items()}
        months = await series(MONTHLY, first) or {}
        assert {m: months.get(m) for m in expected_months} == expected_months
        days = await series("dossiers-per-day", first) or {}
        assert {d: days.get(d) for d in daily} == {d: float(c) for d, c in daily.items()}
        assert days[now.date().isoformat()] == len(live)  # live, untouched by history
        metrics = (await ioc.get("/metrics")).text
        backfilled = [
            line
            for line in metrics.splitlines()
            if line.startswith(f'collector_backfill_records_total{{kpi="{MONTHLY}"}}')
        ]
        assert backfilled and float(backfilled[0].split()[-1]) >= half  # it did backfill
