"""KPIs in the running registry over real HTTP and Kafka: push, version, delete, refusals.

A department that did not exist at build time registers a topic and its contract; its KPI is
checked and pushed with the `lgsp kpi` CLI, versioned, published on the registry topic as kind
`kpi` and deleted. Every misspelt or mistyped field is refused with its JSON Pointer while the
registry keeps serving; a contract version that would break the live KPI is refused naming it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from lgsp_cli.main import app as cli
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import (  # noqa: F401 - fixtures
    OPERATOR_TOKEN,
    postgres_server,
    read_changes,
    registry_database_url,
    registry_topic,
)
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
CHANGE_SCHEMA = json.loads(
    (ROOT / "contracts/platform/lgsp.registry/v1.schema.json").read_text(encoding="utf-8")
)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def enrolment_schema(topic: str) -> dict[str, Any]:
    """Return the new department's contract: school enrolments."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-lgsp": {"topic": topic, "entityKey": "enrolment_id"},
        "required": ["enrolment_id", "school_code", "grade", "fee_vnd", "enrolled_at"],
        "additionalProperties": False,
        "properties": {
            "enrolment_id": {"type": "string", "minLength": 1},
            "school_code": {"type": "string", "description": "School code (vi: mã trường)"},
            "grade": {"type": "integer", "minimum": 1, "maximum": 12},
            "online": {"type": "boolean"},
            "fee_vnd": {"type": "integer", "minimum": 0},
            "enrolled_at": {"type": "string", "format": "date-time"},
            "level": {"enum": ["primary", "lower-secondary", "upper-secondary"]},
        },
    }


def examples() -> dict[str, list[Any]]:
    """Return a valid and an invalid enrolment."""
    valid = {
        "enrolment_id": "E-1",
        "school_code": "79000001",
        "grade": 1,
        "online": True,
        "fee_vnd": 0,
        "enrolled_at": "2026-08-01T08:00:00+07:00",
    }
    return {"valid": [valid], "invalid": [{**valid, "grade": 13}]}


def kpi_definition(kpi_id: str, topic: str) -> dict[str, Any]:
    """Return a KPI on the new topic: enrolment fees by grade."""
    return {
        "id": kpi_id,
        "title_vi": "Học phí tuyển sinh theo khối",
        "title_en": "Enrolment fees by grade",
        "topic": topic,
        "filter": {"where": [{"field": "online", "op": "eq", "value": True}]},
        "measure": {"kind": "sum", "field": "fee_vnd"},
        "dimensions": ["grade", "school_code"],
        "time_field": "enrolled_at",
        "window": "day",
        "unit": "VND",
    }


def invoke(*args: str) -> tuple[int, str]:
    """Run the `lgsp` CLI and return (exit code, output)."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
async def registry(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> Any:
    """Serve a registry over HTTP with its own change topic; yields (url, change topic)."""
    changes = await registry_topic(topic_factory)
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=changes,
        data_dir=tmp_path / "registry",
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
    )
    async with serve(create_app(settings)) as url:
        yield url, changes


async def onboard(http: httpx.AsyncClient, topic: str, suffix: str) -> None:
    """Register the education department, its source and its contract."""
    org = {
        "id": f"so-gd-dt-{suffix}",
        "code": f"000.00.{suffix[:3].upper()}.H03",
        "name_vi": "Sở Giáo dục và Đào tạo",
        "name_en": "Department of Education and Training",
    }
    for path, body in (
        ("/v1/organisations", org),
        (
            "/v1/sources",
            {
                "id": f"sgddt-tuyen-sinh-{suffix}",
                "organisation_id": org["id"],
                "topic": topic,
                "name": "Tuyển sinh đầu cấp (School enrolment)",
                "cadence": "daily",
            },
        ),
        (
            f"/v1/subjects/{topic}/versions",
            {"schema": enrolment_schema(topic), "examples": examples()},
        ),
    ):
        response = await http.post(path, json=body, headers=OPERATOR)
        assert response.status_code == 201, response.text


async def test_a_kpi_is_pushed_versioned_published_and_deleted(
    registry: tuple[str, str], kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    url, changes = registry
    suffix = uuid.uuid4().hex[:8]
    topic, kpi_id = f"education.enrolment-{suffix}.v1", f"enrolment-fees-{suffix}"
    connect = ("--url", url, "--token", OPERATOR_TOKEN)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await onboard(http, topic, suffix)
        file = tmp_path / f"{kpi_id}.yaml"
        file.write_text(yaml.safe_dump(kpi_definition(kpi_id, topic), allow_unicode=True))
        code, output = await asyncio.to_thread(invoke, "kpi", *connect, "check", str(file))
        assert code == 0, output
        assert f"fits {topic} contract version 1" in output
        code, output = await asyncio.to_thread(invoke, "kpi", *connect, "push", str(file))
        assert (code, f"KPI {kpi_id} version 1 registered" in output) == (0, True), output
        code, output = await asyncio.to_thread(invoke, "kpi", *connect, "push", str(file))
        assert "version 1 unchanged" in output, output
        file.write_text(yaml.safe_dump({**kpi_definition(kpi_id, topic), "window": "month"}))
        code, output = await asyncio.to_thread(invoke, "kpi", *connect, "push", str(file))
        assert f"KPI {kpi_id} version 2 registered" in output, output
        listed = (await http.get("/v1/kpis", params={"topic": topic})).json()
        assert [(k["id"], k["version"], k["definition"]["window"]) for k in listed] == [
            (kpi_id, 2, "month")
        ]
        page = (await http.get("/catalogue")).text
        assert kpi_id in page and topic in page
        deleted = await http.delete(f"/v1/kpis/{kpi_id}", headers=OPERATOR)
        assert deleted.status_code == 204
        assert (await http.get(f"/v1/kpis/{kpi_id}")).status_code == 404
    found = await read_changes(kafka_settings, changes, 7)
    mine = [(key, value) for key, value in found if key == f"kpi:{kpi_id}"]
    assert [v["op"] if v else None for _, v in mine] == ["upsert", "upsert", "delete", None]
    first = mine[0][1]
    assert Draft202012Validator(CHANGE_SCHEMA).is_valid(first)
    assert first["data"]["definition"] == kpi_definition(kpi_id, topic)
    assert (first["data"]["topic"], first["data"]["status"], first["version"]) == (
        topic,
        "active",
        1,
    )
    assert mine[1][1]["data"]["version"] == 2


MISTAKES = [
    ("/filter/where/0/field", "kpi_unknown_field", ("filter", "where", 0, "field"), "onlin"),
    ("/measure/field", "kpi_unknown_field", ("measure", "field"), "fee_vdn"),
    ("/dimensions/1", "kpi_unknown_field", ("dimensions", 1), "school"),
    ("/time_field", "kpi_unknown_field", ("time_field",), "enroled_at"),
    ("/measure/field", "kpi_field_not_numeric", ("measure", "field"), "school_code"),
    ("/filter/where/0/value", "kpi_value_mistyped", ("filter", "where", 0, "value"), "yes"),
    ("/time_field", "kpi_time_field_mistyped", ("time_field",), "grade"),
    ("/mesure", "kpi_additionalProperties", None, None),
    (
        "/filter/where/0/value",
        "kpi_value_not_allowed",
        ("filter", "where", 0),
        {"field": "level", "op": "eq", "value": "primry"},
    ),
]


def mistaken(kpi: dict[str, Any], path: tuple[Any, ...] | None, value: Any) -> dict[str, Any]:
    """Return the KPI with one place changed (None: `measure` misspelt as a key)."""
    body = copy.deepcopy(kpi)
    if path is None:
        body["mesure"] = body.pop("measure")
        return body
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


async def test_each_misspelt_or_mistyped_field_is_refused_with_its_pointer(
    registry: tuple[str, str],
) -> None:
    url, _ = registry
    suffix = uuid.uuid4().hex[:8]
    topic = f"education.enrolment-{suffix}.v1"
    kpi = kpi_definition(f"fees-{suffix}", topic)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await onboard(http, topic, suffix)
        for pointer, rule, path, value in MISTAKES:
            response = await http.post(
                "/v1/kpis", json=mistaken(kpi, path, value), headers=OPERATOR
            )
            assert response.status_code == 422, (pointer, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            errors = {(e["pointer"], e["rule"]) for e in response.json()["errors"]}
            assert (pointer, rule) in errors, (pointer, errors)
        everything = mistaken(
            mistaken(kpi, ("measure", "field"), "fee_vdn"), ("dimensions", 0), "grad"
        )
        response = await http.post("/v1/kpis/check", json=everything)
        assert {e["pointer"] for e in response.json()["errors"]} == {
            "/measure/field",
            "/dimensions/0",
        }
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/v1/kpis", params={"topic": topic})).json() == []
        accepted = await http.post("/v1/kpis", json=kpi, headers=OPERATOR)
        assert accepted.status_code == 201, accepted.text


async def test_a_contract_version_breaking_a_live_kpi_is_refused_naming_it(
    registry: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = registry
    suffix = uuid.uuid4().hex[:8]
    topic, kpi_id = f"education.enrolment-{suffix}.v1", f"fees-{suffix}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await onboard(http, topic, suffix)
        pushed = await http.post("/v1/kpis", json=kpi_definition(kpi_id, topic), headers=OPERATOR)
        assert pushed.status_code == 201, pushed.text
        schema = enrolment_schema(topic)
        schema["properties"]["fee_vnd"] = {"type": ["integer", "null"], "minimum": 0}
        body = {"schema": schema, "examples": examples()}
        refused = await http.post(f"/v1/subjects/{topic}/versions", json=body, headers=OPERATOR)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert f"live KPI(s) {kpi_id}" in problem["detail"]
        assert {(r["consumer_id"], r["data_path"], r["rule"]) for r in problem["reasons"]} == {
            (f"kpi:{kpi_id}", "/fee_vnd", "CONSUMER_FIELD_RETYPED")
        }
    file = tmp_path / "v2.schema.json"
    file.write_text(json.dumps(schema))
    folder = tmp_path / "examples"
    for kind, payloads in examples().items():
        (folder / kind).mkdir(parents=True)
        for index, payload in enumerate(payloads):
            (folder / kind / f"{index}.json").write_text(json.dumps(payload))
    report = tmp_path / "check.xml"
    code, output = await asyncio.to_thread(
        invoke,
        *("registry", "--url", url, "contract", "check", str(file)),
        *("--examples", str(folder), "--junit", str(report)),
    )
    assert code == 1 and f"kpi:{kpi_id}" in output, output
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert cases["v2.schema.json"].find("failure") is None
    verdict = cases[f"compatibility with {topic}"].find("failure")
    assert verdict is not None and f"kpi:{kpi_id}" in (verdict.text or "")


@pytest.mark.postgres
@pytest.mark.parametrize("registry_database_url", ["postgres"], indirect=True)
async def test_kpis_on_postgresql(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    registry_database_url: str,  # noqa: F811 - the fixture
) -> None:
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=await registry_topic(topic_factory),
        database_url=registry_database_url,
        data_dir=tmp_path / "registry",
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
    )
    suffix = uuid.uuid4().hex[:8]
    topic, kpi_id = f"education.enrolment-{suffix}.v1", f"fees-{suffix}"
    kpi = kpi_definition(kpi_id, topic)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        await onboard(http, topic, suffix)
        assert (await http.post("/v1/kpis", json=kpi, headers=OPERATOR)).status_code == 201
        again = await http.put(
            f"/v1/kpis/{kpi_id}", json={**kpi, "window": "hour"}, headers=OPERATOR
        )
        assert (again.status_code, again.json()["version"]) == (200, 2)
        same = await http.put(
            f"/v1/kpis/{kpi_id}", json={**kpi, "window": "hour"}, headers=OPERATOR
        )
        assert same.json()["version"] == 2
        wrong = mistaken(kpi, ("measure", "field"), "fee_vdn")
        refused = await http.post("/v1/kpis/check", json=wrong)
        assert [e["pointer"] for e in refused.json()["errors"]] == ["/measure/field"]
        assert (await http.delete(f"/v1/kpis/{kpi_id}", headers=OPERATOR)).status_code == 204
