"""The Steering Committee's report against the real broker: events for last month go in, the
report for that month comes out as JSON, a printable page and an .xlsx whose values, read back
with openpyxl, equal /v1/kpis for that month; the scorecard counts the targets met."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaProducer

from ioc_collector.domain.periods import Period, period_containing
from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, publish_viewer

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text())
VALID = json.loads(
    (
        ROOT / "contracts/topics/tthc.dossier.v1/examples/valid/online-submitted-province.json"
    ).read_text()
)
# A month-window rate with a monthly target, a day-window count, a KPI never fed (no data).
KPIS = {
    "online-rate": """id: online-rate
title_vi: Tỷ lệ hồ sơ nộp trực tuyến
title_en: Online dossier rate
topic: {topic}
filter: {{where: [{{field: status, op: eq, value: submitted}}]}}
measure:
  kind: ratio
  numerator: {{kind: count, filter: {{where: [{{field: channel, op: eq, value: online}}]}}}}
  denominator: {{kind: count}}
time_field: submitted_at
window: month
idle_timeout: P3650D
target: {{value: 40, direction: gte, period: month, group: digital_government}}
unit: "%"
""",
    "submitted-daily": """id: submitted-daily
title_vi: Hồ sơ nộp theo ngày
title_en: Dossiers submitted per day
topic: {topic}
measure: {{kind: count}}
time_field: submitted_at
window: day
idle_timeout: P3650D
unit: dossiers
""",
    "returned-on-paper": """id: returned-on-paper
title_vi: Hồ sơ trả kết quả bản giấy
title_en: Results returned on paper
topic: {topic}
filter: {{where: [{{field: status, op: eq, value: returned}}]}}
measure: {{kind: count}}
time_field: submitted_at
window: month
idle_timeout: P3650D
target: {{value: 10, direction: lte, group: digital_society}}
unit: dossiers
""",
}


@dataclass
class Env:
    url: str
    kafka: KafkaSettings
    topic: str


@pytest.fixture
async def env(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> AsyncIterator[Env]:
    """Start a collector over a per-test dossier topic with the three KPIs above."""
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_viewer(kafka_settings, registry)  # the figures are read as a viewer
    dlq, kpi_topic = await topic_factory("dlq"), await topic_factory("kpi")
    contract = tmp_path / "contracts" / "topics" / topic
    contract.mkdir(parents=True)
    (contract / "v1.schema.json").write_text(json.dumps(SCHEMA))
    kpis = tmp_path / "kpis"
    kpis.mkdir()
    for name, body in KPIS.items():
        (kpis / f"{name}.yaml").write_text(body.format(topic=topic), encoding="utf-8")
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=tmp_path / "contracts", kpis_dir=kpis,
        topics=[topic], group_id=f"ioc-{topic}", store_url=collector_store_url,
        registry_topic=registry, dlq_topic=dlq, kpi_topic=kpi_topic, tick_interval_s=0.2,
        lag_interval_s=0.5,
    )  # fmt: skip
    async with serve(create_app(settings)) as url:
        yield Env(url, kafka_settings, topic)


def last_month() -> Period:
    return period_containing(datetime.now(UTC), "month").previous()


def dossier(n: int, day: int, channel: str) -> dict[str, Any]:
    """Return a dossier submitted on `day` of last month, 09:00 Vietnam time."""
    month = last_month()
    submitted = month.start.replace(day=day, hour=9).isoformat()
    return {**VALID, "dossier_id": f"H03-{n:06d}", "channel": channel, "submitted_at": submitted}


async def publish(kafka: KafkaSettings, topic: str, payloads: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for payload in payloads:
            record = to_kafka(
                CloudEvent(id=str(uuid.uuid4()), source="/sources/dvc-portal",
                           type="vn.gov.lgsp.tthc.dossier.submitted", data=payload),
                payload["dossier_id"], carrier={},
            )  # fmt: skip
            await producer.send_and_wait(topic, record.value, key=b"k", headers=record.headers)
    finally:
        await producer.stop()


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached; last: {last}")


def xlsx_values(content: bytes) -> dict[str, Any]:
    """Read the report sheet back: KPI id -> value (column E), under the header row."""
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["Báo cáo (report)"]
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == "Mã chỉ số (KPI id)") + 1
    return {row[0]: row[4] for row in rows[start:] if row[0]}


async def test_last_months_report_as_xlsx_equals_the_kpis_for_that_month(env: Env) -> None:
    # 5 dossiers on two days of last month, 3 online: 60 % online, 5 submitted.
    channels = ["online", "online", "paper", "online", "paper"]
    await publish(
        env.kafka, env.topic, [dossier(n, 3 if n < 3 else 17, c) for n, c in enumerate(channels)]
    )
    month = last_month().id
    async with httpx.AsyncClient(base_url=env.url, timeout=30, headers=VIEWER_HEADERS) as http:

        async def all_in() -> Any:
            body = (await http.get("/v1/kpis", params={"period": month})).json()
            tiles = {tile["id"]: tile for tile in body["kpis"]}
            return tiles if tiles["submitted-daily"]["period"]["value"] == 5 else None

        tiles = await until(all_in)
        answer = await http.get(f"/v1/reports/{month}", params={"format": "xlsx"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
        from_xlsx = xlsx_values(answer.content)

        assert from_xlsx == {
            kpi_id: tile["period"]["value"] if tile["period"]["value"] is not None
            else "không có dữ liệu (no data)"
            for kpi_id, tile in tiles.items()
        }  # fmt: skip
        assert from_xlsx["online-rate"] == pytest.approx(60.0)
        assert from_xlsx["submitted-daily"] == 5
        assert from_xlsx["returned-on-paper"] == "không có dữ liệu (no data)"
        # A month-window KPI: the month's value is the latest tile's, without ?period= too.
        plain = {t["id"]: t for t in (await http.get("/v1/kpis")).json()["kpis"]}
        assert plain["online-rate"]["current"]["value"] == from_xlsx["online-rate"]
        assert plain["online-rate"]["period"]["period"] == month
        assert (plain["online-rate"]["status"], plain["online-rate"]["group"]) == (
            "met", "digital_government"
        )  # fmt: skip
        # A day-window KPI: the month's value is the sum of its days in the series.
        start, end = last_month().start.date(), last_month().end.date()
        series = (
            await http.get(
                "/v1/kpis/submitted-daily/series", params={"from": str(start), "to": str(end)}
            )
        ).json()
        assert sum(p["value"] or 0 for p in series["points"]) == from_xlsx["submitted-daily"]

        report = (await http.get(f"/v1/reports/{month}")).json()
        rows = {row["kpi_id"]: row for row in report["kpis"]}
        assert {k: r["value"] for k, r in rows.items()} == {
            k: t["period"]["value"] for k, t in tiles.items()
        }
        assert rows["online-rate"]["status"] == "met"
        assert rows["returned-on-paper"]["status"] == "no_data"
        assert rows["submitted-daily"]["windows_with_data"] == 2
        assert len(rows["online-rate"]["chart"]) == 12
        assert rows["online-rate"]["chart"][-1] == {"period": month, "value": pytest.approx(60.0)}
        assert report["scorecard"]["overall"] == {
            "met": 1, "total": 2, "not_met": ["returned-on-paper"]
        }  # fmt: skip

        page = await http.get(f"/v1/reports/{month}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Đạt (met)" in page.text and "<svg" in page.text and "@media print" in page.text
        by_query = await http.get(f"/v1/reports/{month}", params={"format": "html"})
        assert by_query.status_code == 200 and 'data-kpi="online-rate"' in by_query.text


async def test_the_scorecard_and_a_bad_period(env: Env) -> None:
    await publish(env.kafka, env.topic, [dossier(1, 5, "paper"), dossier(2, 5, "paper")])
    async with httpx.AsyncClient(base_url=env.url, timeout=30, headers=VIEWER_HEADERS) as http:

        async def counted() -> Any:
            card = (await http.get("/v1/scorecard")).json()
            items = {i["kpi_id"]: i for i in card["items"]}
            return card if items["online-rate"]["value"] is not None else None

        card = await until(counted)
        groups = {g["group"]: g for g in card["groups"]}
        assert groups["digital_government"] == {
            "group": "digital_government", "title_vi": "Chính quyền số",
            "title_en": "Digital government", "met": 0, "total": 1, "not_met": ["online-rate"],
        }  # fmt: skip
        assert (groups["digital_economy"]["met"], groups["digital_economy"]["total"]) == (0, 0)
        assert card["overall"]["total"] == 2

        for bad in ("2026-13", "2026-Q5", "last-month"):
            answer = await http.get(f"/v1/reports/{bad}")
            assert answer.status_code == 422, bad
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["errors"][0]["pointer"] == "/period"
        assert (await http.get("/v1/kpis", params={"period": "2026-13"})).status_code == 422
