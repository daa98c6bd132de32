"""The IOC dashboard in Debian's Chromium (Playwright, never a downloaded browser).

Loads the page served by the collector, sees the KPI tiles, sees a value change when new events
arrive (live, without reload), sees a source turn LATE then SILENT (red), and saves screenshots
under `test-artifacts/`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from browser_sign_in import sign_in
from playwright.async_api import Browser, Page, expect

from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_TOKEN, viewer_change

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
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


@pytest.fixture
async def dashboard(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """Start a collector with one KPI and one realtime source (LATE after 3 s, SILENT after 6 s)."""
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    source = {"id": "dvc-portal", "organisation_id": "vp-ubnd", "topic": topic,
              "name": "Cổng dịch vụ công tỉnh", "cadence": "realtime", "status": "active",
              "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    changes = [("source", "dvc-portal", source), viewer_change()]  # viewer: VIEWER_TOKEN
    await publish_registry_changes(kafka_settings, registry, changes)
    kpis = tmp_path / "kpis"
    kpis.mkdir()
    (kpis / "submitted.yaml").write_text(KPI.format(topic=topic))
    (tmp_path / "contracts").mkdir()
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=tmp_path / "contracts", kpis_dir=kpis,
        topics=[topic], group_id=f"ioc-{topic}", store_path=tmp_path / "state.sqlite3",
        registry_topic=registry, dlq_topic=await topic_factory("dlq"),
        kpi_topic=await topic_factory("kpi"), tick_interval_s=0.25,
        health_thresholds={"realtime": {"late": 3, "silent": 6}},
    )  # fmt: skip
    async with serve(create_app(settings)) as url:
        yield url, topic


async def publish(kafka: KafkaSettings, topic: str, count: int, first: int) -> None:
    """Send `count` dossier submissions."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for n in range(first, first + count):
            payload: dict[str, Any] = {**VALID, "dossier_id": f"H03-{n:06d}"}
            event = CloudEvent(
                id=str(uuid.uuid4()), source="/sources/dvc-portal", type="t.submitted", data=payload
            )
            record = to_kafka(event, payload["dossier_id"], carrier={})
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_dashboard_shows_tiles_live_values_and_a_source_going_silent(
    browser: Browser, dashboard: tuple[str, str], kafka_settings: KafkaSettings
) -> None:
    url, topic = dashboard
    await publish(kafka_settings, topic, 2, first=1)
    session = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await session.new_page()  # its tabs share the sign-in cookie
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, url, VIEWER_TOKEN)  # the figures are for signed-in viewers only
    tile = page.locator('[data-kpi-id="submitted"]')
    await expect(tile.locator(".title-vi")).to_have_text("Hồ sơ nộp")
    await expect(tile.locator(".title-en")).to_have_text("Dossiers submitted")
    await expect(tile.locator(".kpi-value")).to_have_text("2", timeout=15_000)
    await expect(tile.locator(".kpi-status")).to_contain_text("Chưa đạt (not met)")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    await expect(page.locator("#series-chart")).to_be_visible()
    overall = page.locator('#scorecard .score-card[data-group="overall"] .score-value')
    await expect(overall).to_have_text("0/1")  # one target set, not met yet
    await expect(page.locator("#report-button")).to_contain_text("Báo cáo tháng (monthly report)")
    await screenshot(page, "dashboard-before.png")

    await publish(kafka_settings, topic, 1, first=3)  # no reload: the SSE stream brings it
    await expect(tile.locator(".kpi-value")).to_have_text("3", timeout=15_000)
    await expect(tile.locator(".kpi-status")).to_contain_text("Đạt (met)")
    await expect(overall).to_have_text("1/1")
    await expect(page.locator("#scorecard")).to_be_visible()
    row = page.locator('tr[data-source-id="dvc-portal"]')
    await expect(row).to_have_class("status-OK")
    await expect(row).to_have_class("status-LATE", timeout=10_000)
    await expect(row.locator(".source-status")).to_have_text("LATE")
    await expect(row).to_have_class("status-SILENT", timeout=10_000)
    await expect(row.locator(".source-status")).to_have_text("SILENT")
    background = await row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(253, 226, 225)"  # the red of a silent source
    path = await screenshot(page, "dashboard.png")
    assert path.stat().st_size > 10_000
    assert errors == []

    report = await session.new_page()  # the same browser session: signed in
    await report.goto(url + "/v1/reports/2024-09", wait_until="load")  # the events' month
    row = report.locator('tr[data-kpi="submitted"]')
    await expect(row).to_contain_text("Đạt (met)")
    await expect(row.locator("svg.spark")).to_be_visible()
    await screenshot(report, "monthly-report.png")

    await page.click("#logout")  # signing out ends the session for every tab
    await expect(page).to_have_url(url + "/login")
    signed_out = await report.goto(url + "/v1/kpis")
    assert signed_out is not None and signed_out.status == 401
