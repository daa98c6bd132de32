"""KPIs as registry data, in process: format and contract checks, versions, events, readers."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from lgsp_registry.domain.kpi_rules import format_violations, read_fields

from .test_api import OPERATOR, http, ok, outbox_events  # noqa: F401 - the fixture

TOPIC = "tthc.dossier.v1"
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dossier_id", "status", "channel", "fee_vnd", "submitted_at"],
    "properties": {
        "dossier_id": {"type": "string", "description": "Dossier number (vi: số hồ sơ)"},
        "status": {"enum": ["submitted", "returned"]},
        "channel": {"enum": ["online", "paper"]},
        "fee_vnd": {"type": "integer", "minimum": 0},
        "on_time": {"type": "boolean"},
        "submitted_at": {"type": "string", "format": "date-time"},
    },
}
KPI: dict[str, Any] = {
    "id": "online-rate",
    "title_vi": "Tỷ lệ hồ sơ trực tuyến",
    "title_en": "Online dossier rate",
    "topic": TOPIC,
    "filter": {"where": [{"field": "status", "op": "eq", "value": "submitted"}]},
    "measure": {
        "kind": "ratio",
        "numerator": {
            "kind": "count",
            "filter": {"where": [{"field": "channel", "op": "eq", "value": "online"}]},
        },
        "denominator": {"kind": "count"},
    },
    "dimensions": ["status"],
    "time_field": "submitted_at",
    "window": "day",
    "unit": "%",
}


async def with_contract(http: httpx.AsyncClient, schema: dict[str, Any] = SCHEMA) -> None:  # noqa: F811
    """Register the topic's contract."""
    body = {"schema": schema}
    await ok(await http.post(f"/v1/subjects/{TOPIC}/versions", json=body, headers=OPERATOR))


def pointers(response: httpx.Response) -> dict[str, str]:
    """Return each failing pointer of a 422 with its rule."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["pointer"]: e["rule"] for e in response.json()["errors"]}


def test_the_format_names_every_broken_place() -> None:
    body = copy.deepcopy(KPI)
    body["mesure"] = body.pop("measure")
    body["window"] = "week"
    body["filter"]["where"][0]["op"] = "in"
    found = {v.pointer for v in format_violations(body)}
    assert {"/mesure", "/measure", "/window", "/filter/where/0/value"} <= found
    assert read_fields(KPI) == ["/channel", "/status", "/submitted_at"]


async def test_push_version_read_delete_and_events(http: httpx.AsyncClient) -> None:  # noqa: F811
    await with_contract(http)
    assert (await http.post("/v1/kpis", json=KPI)).status_code == 401
    checked = await ok(await http.post("/v1/kpis/check", json=KPI), 200)
    assert checked["contract_version"] == 1 and checked["fields"] == read_fields(KPI)
    created = await ok(await http.post("/v1/kpis", json=KPI, headers=OPERATOR))
    assert (created["version"], created["status"]) == (1, "active")
    same = await ok(await http.put(f"/v1/kpis/{KPI['id']}", json=KPI, headers=OPERATOR), 200)
    assert same["version"] == 1
    changed = {**KPI, "window": "month"}
    again = await ok(await http.put(f"/v1/kpis/{KPI['id']}", json=changed, headers=OPERATOR), 200)
    assert again["version"] == 2 and again["definition"]["window"] == "month"
    clash = await http.post("/v1/kpis", json=KPI, headers=OPERATOR)
    assert clash.status_code == 409
    assert [k["id"] for k in await ok(await http.get(f"/v1/kpis?topic={TOPIC}"), 200)] == [
        KPI["id"]
    ]
    await ok(await http.delete(f"/v1/kpis/{KPI['id']}", headers=OPERATOR), 204)
    assert (await http.get(f"/v1/kpis/{KPI['id']}")).status_code == 404
    events = [(k, v) for k, v in await outbox_events(http) if k.startswith("kpi:")]
    assert [(v or {}).get("op") for _, v in events] == ["upsert", "upsert", "delete", None]
    assert events[1][1]["data"]["definition"]["window"] == "month"
    assert events[1][1]["data"]["version"] == 2


async def test_fields_are_checked_against_the_latest_contract(http: httpx.AsyncClient) -> None:  # noqa: F811
    await with_contract(http)
    body = copy.deepcopy(KPI)
    body["filter"]["where"][0]["field"] = "stauts"
    body["dimensions"] = ["channel", "distrct_code"]
    body["time_field"] = "fee_vnd"
    body["measure"]["numerator"]["filter"]["where"][0]["value"] = 3
    found = pointers(await http.post("/v1/kpis", json=body, headers=OPERATOR))
    assert found == {
        "/filter/where/0/field": "kpi_unknown_field",
        "/dimensions/1": "kpi_unknown_field",
        "/time_field": "kpi_time_field_mistyped",
        "/measure/numerator/filter/where/0/value": "kpi_value_mistyped",
    }
    summed = {**KPI, "measure": {"kind": "sum", "field": "dossier_id"}, "unit": "VND"}
    assert pointers(await http.post("/v1/kpis/check", json=summed)) == {
        "/measure/field": "kpi_field_not_numeric"
    }
    fee = {**summed, "measure": {"kind": "average", "field": "fee_vnd"}}
    await ok(await http.post("/v1/kpis/check", json=fee), 200)
    metrics = (await http.get("/metrics")).text
    assert 'registry_kpi_checks_total{verdict="refused"} 2.0' in metrics
    assert 'registry_kpi_checks_total{verdict="accepted"} 1.0' in metrics
    misspelt = copy.deepcopy(KPI)
    misspelt["filter"]["where"][0] = {"field": "status", "op": "in", "value": ["submited"]}
    assert pointers(await http.post("/v1/kpis/check", json=misspelt)) == {
        "/filter/where/0/value": "kpi_value_not_allowed"
    }
    elsewhere = {**KPI, "topic": "health.medical-visit.v1"}
    assert pointers(await http.post("/v1/kpis/check", json=elsewhere)) == {
        "/topic": "kpi_unknown_topic"
    }


async def test_a_contract_breaking_a_live_kpi_is_refused_naming_it(http: httpx.AsyncClient) -> None:  # noqa: F811
    await with_contract(http)
    await ok(await http.post("/v1/kpis", json=KPI, headers=OPERATOR))
    schema = copy.deepcopy(SCHEMA)
    schema["required"].remove("channel")  # compatible, but the KPI relied on it
    body = {"schema": schema}
    refused = await http.post(f"/v1/subjects/{TOPIC}/versions", json=body, headers=OPERATOR)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert "live KPI(s) online-rate" in problem["detail"]
    assert {r["consumer_id"] for r in problem["reasons"]} == {"kpi:online-rate"}
    assert any(r["data_path"] == "/channel" for r in problem["reasons"])


async def test_catalogue_and_asyncapi_show_the_topic(http: httpx.AsyncClient) -> None:  # noqa: F811
    await with_contract(http)
    await ok(await http.post("/v1/kpis", json=KPI, headers=OPERATOR))
    page = await http.get("/catalogue")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Danh mục dữ liệu (Data catalogue)" in page.text
    assert TOPIC in page.text and "dossier_id" in page.text and "Dossier number" in page.text
    assert "online-rate" in page.text
    document = await ok(await http.get("/asyncapi.json"), 200)
    assert document["asyncapi"] == "3.0.0"
    channel = document["channels"]["tthcDossierV1"]
    assert channel["address"] == TOPIC
    message = document["components"]["messages"]["tthcDossierV1Event"]
    assert message["payload"]["schema"] == SCHEMA
    text = await http.get("/asyncapi.yaml")
    assert text.headers["content-type"].startswith("application/yaml")
    assert "address: tthc.dossier.v1" in text.text


GARBAGE: list[Any] = [
    {},
    [],
    "kpi",
    {"id": 5, "measure": "count"},
    {**KPI, "measure": {"kind": "ratio"}},
    {**KPI, "measure": {"kind": "ratio", "numerator": [], "denominator": {"kind": 1}}},
    {**KPI, "filter": {"where": [{"field": "/a/~2", "op": "eq"}]}},
    {**KPI, "dimensions": "status"},
    {**KPI, "time_field": None, "allowed_lateness": -1, "idle_timeout": "P1Y"},
    {**KPI, "filter": {"where": [None, 1, {"op": "in", "value": []}]}},
]


async def test_malformed_definitions_get_a_problem_never_a_crash(http: httpx.AsyncClient) -> None:  # noqa: F811
    await with_contract(http)
    for body in GARBAGE:
        for path in ("/v1/kpis/check", "/v1/kpis"):
            response = await http.post(path, json=body, headers=OPERATOR)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"], body
    assert await ok(await http.get("/v1/kpis"), 200) == []
