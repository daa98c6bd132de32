"""Connect once, live: a department unknown at build time joins a running platform.

The platform starts from nothing (registry, gateway, collector, population adapter, each over
real HTTP on a real broker). Then, without restarting or reconfiguring any service, the
Department of Education and Training (Sở Giáo dục và Đào tạo) registers itself and a topic that
exists nowhere in the repository, pushes its contract, gets a key and publishes valid and
invalid events through the gateway. Its source shows in health with the right counts; a KPI
pushed afterwards is served with the values of an independent count that includes the events
sent before the KPI existed (backfill); a second collector replica started mid-test serves the
same values; a contract version that would break the KPI is refused, naming it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ioc_collector.main import create_app
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform
from lgsp_devkit.testing import serve

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]
SCHOOLS = ["79001", "79002", "79003"]
EVENT_TYPE = "vn.gov.lgsp.education.enrolment.{status}"


def enrolment_contract(topic: str) -> dict[str, Any]:
    """The new department's contract: one school enrolment (tuyển sinh)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://lgsp.example.gov.vn/contracts/topics/{topic}/v1.schema.json",
        "title": "School enrolment (tuyển sinh đầu cấp)",
        "type": "object",
        "additionalProperties": False,
        "required": ["enrolment_id", "school_code", "grade", "status", "enrolled_at"],
        "properties": {
            "enrolment_id": {"type": "string", "minLength": 1, "maxLength": 40},
            "school_code": {"type": "string", "pattern": "^[0-9]{5}$",
                            "description": "School code (vi: mã trường)"},
            "grade": {"type": "integer", "minimum": 1, "maximum": 12,
                      "description": "Grade entered (vi: khối lớp)"},
            "status": {"type": "string", "enum": ["accepted", "withdrawn"]},
            "online": {"type": "boolean", "description": "Applied online (vi: nộp trực tuyến)"},
            "enrolled_at": {"type": "string", "format": "date-time"},
        },
        "x-lgsp": {"topic": topic, "entityKey": "enrolment_id", "owner": "so-gd-dt",
                   "cadence": "realtime", "eventType": EVENT_TYPE},
    }  # fmt: skip


def enrolment(n: int) -> dict[str, Any]:
    """The n-th enrolment: schools, grades and channels varied, all this month."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=n % 50)
    return {
        "enrolment_id": f"TS-{n:05d}",
        "school_code": SCHOOLS[n % 3],
        "grade": 1 + n % 3 * 5,
        "status": "accepted",
        "online": n % 4 != 0,
        "enrolled_at": at.isoformat().replace("+00:00", "Z"),
    }


def online_by_school(topic: str) -> dict[str, Any]:
    """The KPI pushed once events already flow: online enrolments per school, per month."""
    return {
        "id": f"online-enrolments-{topic.split('.')[1]}",
        "title_vi": "Hồ sơ tuyển sinh trực tuyến theo trường",
        "title_en": "Online enrolments by school",
        "topic": topic,
        "filter": {"where": [{"field": "online", "op": "eq", "value": True}]},
        "measure": {"kind": "count"},
        "dimensions": ["school_code"],
        "time_field": "enrolled_at",
        "window": "month",
        "idle_timeout": "P3650D",
        "unit": "enrolments",
    }


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 90) -> Any:
    """Wait for a condition (a generous deadline on a loaded machine), never a fixed sleep."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not reached; last: {last}")


async def onboard(registry: httpx.AsyncClient, topic: str, source: str) -> str:
    """Register the department, its source and its contract; return its publishing key."""
    org = {"id": "so-gd-dt", "code": "000.00.19.H03", "name_vi": "Sở Giáo dục và Đào tạo",
           "name_en": "Department of Education and Training"}  # fmt: skip
    assert (await registry.post("/v1/organisations", json=org)).status_code in (200, 201)
    body = {"id": source, "organisation_id": "so-gd-dt", "topic": topic,
            "name": "Tuyển sinh đầu cấp (school enrolment)", "cadence": "realtime"}  # fmt: skip
    assert (await registry.post("/v1/sources", json=body)).status_code == 201
    contract = {"schema": enrolment_contract(topic),
                "examples": {"valid": [enrolment(0)], "invalid": [{"grade": 13}]}}  # fmt: skip
    pushed = await registry.post(f"/v1/subjects/{topic}/versions", json=contract)
    assert pushed.status_code == 201, pushed.text
    key = await registry.post(f"/v1/sources/{source}/keys")
    assert key.status_code == 201, key.text
    return str(key.json()["key"])


def ce_headers(key: str) -> dict[str, str]:
    """Binary-mode CloudEvents headers of an accepted enrolment, with the source's key."""
    return {"x-api-key": key, "ce-specversion": "1.0", "ce-id": str(uuid.uuid4()),
            "ce-type": "vn.gov.lgsp.education.enrolment.accepted"}  # fmt: skip


async def publish(gateway: httpx.AsyncClient, topic: str, key: str, numbers: range) -> None:
    """Publish enrolments through the gateway; every one must be acknowledged."""
    for n in numbers:
        answer = await gateway.post(
            f"/v1/topics/{topic}/events", json=enrolment(n), headers=ce_headers(key)
        )
        assert answer.status_code == 202, answer.text


async def health_of(collector: httpx.AsyncClient, source: str) -> dict[str, Any] | None:
    rows = (await collector.get("/v1/sources/health")).json()["sources"]
    return next((row for row in rows if row["id"] == source), None)


async def served(collector: httpx.AsyncClient, kpi_id: str) -> dict[str, float]:
    """The KPI's value per school in the current window (empty until served)."""
    found: dict[str, float] = {}
    for school in SCHOOLS:
        answer = await collector.get(f"/v1/kpis/{kpi_id}/series", params={"school_code": school})
        if answer.status_code != 200 or not answer.json()["points"]:
            return {}
        value = answer.json()["points"][-1]["value"]
        found[school] = value if value is not None else 0.0
    return found


async def test_a_department_unknown_at_build_time_connects_once_live(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, source = f"education.school-enrolment-{suffix}.v1", f"sgddt-tuyen-sinh-{suffix}"
    async with AsyncExitStack() as stack:
        platform = await stack.enter_async_context(
            in_process_platform(kafka_settings, tmp_path, citizens=200)
        )
        operator = {"Authorization": f"Bearer {platform.token}"}
        registry = await stack.enter_async_context(
            httpx.AsyncClient(base_url=platform.urls["registry"], headers=operator, timeout=30)
        )
        gateway = await stack.enter_async_context(
            httpx.AsyncClient(base_url=platform.urls["gateway"], timeout=30)
        )
        collector = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=platform.urls["collector"], timeout=30, headers=platform.viewer_headers
            )
        )
        key = await onboard(registry, topic, source)

        async def gateway_knows_the_contract() -> bool:
            probe = await gateway.post(
                f"/v1/topics/{topic}/events", json={"grade": 99}, headers=ce_headers(key)
            )
            return probe.status_code == 422

        await until(gateway_knows_the_contract, "the gateway enforcing the new contract")
        await publish(gateway, topic, key, range(40))

        async def counted() -> dict[str, Any] | None:
            row = await health_of(collector, source)
            return row if row and row["status"] == "OK" and row["events_total"] == 40 else None

        row = await until(counted, "the new source collected and healthy")
        assert row["topic"] == topic and row["rejected"] >= 1  # the probe went to the DLQ

        kpi = online_by_school(topic)
        pushed = await registry.post("/v1/kpis", json=kpi)
        assert pushed.status_code == 201, pushed.text
        await publish(gateway, topic, key, range(40, 70))
        expected = Counter(enrolment(n)["school_code"] for n in range(70) if enrolment(n)["online"])
        want = {school: float(expected[school]) for school in SCHOOLS}

        async def backfilled(client: httpx.AsyncClient = collector) -> bool:
            return await served(client, kpi["id"]) == want

        await until(backfilled, "the KPI over events sent before and after it existed")

        replica_settings = platform.collector_settings.model_copy(update={"instance_id": "b"})
        second = await stack.enter_async_context(serve(create_app(replica_settings)))
        await publish(gateway, topic, key, range(70, 80))  # both replicas see the rebalance
        expected = Counter(enrolment(n)["school_code"] for n in range(80) if enrolment(n)["online"])
        want.update({school: float(expected[school]) for school in SCHOOLS})
        viewer = platform.viewer_headers  # the replica follows the same registry: same viewers
        async with httpx.AsyncClient(base_url=second, timeout=30, headers=viewer) as replica:
            await until(lambda: backfilled(replica), "the same values on a second replica")
            await until(backfilled, "the same values on the first replica")

        breaking = enrolment_contract(topic)
        breaking["properties"]["online"] = {"type": "string"}
        examples = {"valid": [{**enrolment(0), "online": "yes"}], "invalid": [{"grade": 13}]}
        refused = await registry.post(
            f"/v1/subjects/{topic}/versions", json={"schema": breaking, "examples": examples}
        )
        assert refused.status_code == 409, refused.text
        assert kpi["id"] in refused.text
