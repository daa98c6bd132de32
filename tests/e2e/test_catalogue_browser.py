"""The registry's data catalogue page in Debian's Chromium (Playwright, never a downloaded browser).

On a running registry, a department that was not there at start-up registers, with a source,
a contract, a KPI and an approved consumer; the catalogue page shows all of it without a
restart: the organisation, the topic, every field with its description, the cadence, the KPI
and the consumer with its purpose and fields. A screenshot goes to `test-artifacts/`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import OPERATOR_TOKEN, registry_topic
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
FIELDS = {
    "enrolment_id": "Enrolment number (vi: số hồ sơ tuyển sinh)",
    "school_code": "School code (vi: mã trường)",
    "grade": "Grade enrolled in (vi: khối lớp)",
}


@pytest.fixture
async def registry_url(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> AsyncIterator[str]:
    """Serve a registry over real HTTP with its own change topic."""
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=await registry_topic(topic_factory),
        data_dir=tmp_path / "registry",
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
    )
    async with serve(create_app(settings)) as url:
        yield url


def contract(topic: str) -> dict[str, Any]:
    """Return the department's contract with a described field each."""
    valid = {"enrolment_id": "E-1", "school_code": "79000001", "grade": 1}
    return {
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "School enrolment (Tuyển sinh đầu cấp)",
            "description": "One pupil enrolled in a school year.",
            "type": "object",
            "x-lgsp": {"topic": topic, "entityKey": "enrolment_id"},
            "required": list(FIELDS),
            "additionalProperties": False,
            "properties": {
                "enrolment_id": {"type": "string", "description": FIELDS["enrolment_id"]},
                "school_code": {"type": "string", "description": FIELDS["school_code"]},
                "grade": {"type": "integer", "minimum": 1, "description": FIELDS["grade"]},
            },
        },
        "examples": {"valid": [valid], "invalid": [{**valid, "grade": 0}]},
    }


async def register_department(url: str, suffix: str, topic: str) -> None:
    """Register the department, its source, contract, a KPI and an approved consumer."""
    org, reader = f"so-gd-dt-{suffix}", f"ioc-{suffix}"
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "/v1/organisations",
            {"id": org, "code": f"000.00.{suffix[:2].upper()}.H03",
             "name_vi": "Sở Giáo dục và Đào tạo",
             "name_en": "Department of Education and Training"},
        ),
        (
            "/v1/organisations",
            {"id": reader, "code": f"000.00.{suffix[2:4].upper()}.H99",
             "name_vi": "Trung tâm điều hành", "name_en": "Operations centre"},
        ),
        (
            "/v1/sources",
            {"id": f"sgddt-{suffix}", "organisation_id": org, "topic": topic,
             "name": "Tuyển sinh đầu cấp (School enrolment)", "cadence": "daily"},
        ),
        (f"/v1/subjects/{topic}/versions", contract(topic)),
        (
            "/v1/kpis",
            {"id": f"enrolments-{suffix}", "title_vi": "Số học sinh tuyển mới",
             "title_en": "New enrolments", "topic": topic, "measure": {"kind": "count"},
             "dimensions": ["grade"], "window": "day", "unit": "pupils"},
        ),
        (
            "/v1/consumers",
            {"id": f"ioc-enrol-{suffix}", "organisation_id": reader, "topic": topic,
             "purpose": "ioc-kpi", "fields": ["/grade", "/school_code"],
             "name": "IOC enrolment dashboard"},
        ),
        (f"/v1/consumers/ioc-enrol-{suffix}/approve", {}),
    ]  # fmt: skip
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for path, body in calls:
            response = await http.post(path, json=body or None, headers=OPERATOR)
            assert response.status_code in (200, 201), response.text


async def test_the_catalogue_shows_a_department_registered_at_runtime(
    registry_url: str, browser: Browser
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = f"education.enrolment-{suffix}.v1"
    page = await browser.new_page()
    await page.goto(f"{registry_url}/catalogue")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Danh mục dữ liệu (Data catalogue)"
    )
    await expect(page.locator(f"[id='{topic}']")).to_have_count(0)
    await register_department(registry_url, suffix, topic)
    await page.reload()
    section = page.locator("section.topic", has=page.locator(f"[id='{topic}']"))
    await expect(section).to_have_count(1)
    await expect(page.locator("#organisations + table")).to_contain_text("Sở Giáo dục và Đào tạo")
    for name, description in FIELDS.items():
        row = section.locator("tr", has=page.locator("code", has_text=name)).first
        await expect(row).to_contain_text(description)
    await expect(section).to_contain_text("daily")
    await expect(section).to_contain_text(f"enrolments-{suffix}")
    await expect(section).to_contain_text("IOC enrolment dashboard")
    await expect(section).to_contain_text("ioc-kpi")
    ARTIFACTS.mkdir(exist_ok=True)
    await section.screenshot(path=str(ARTIFACTS / "catalogue-new-department.png"))
