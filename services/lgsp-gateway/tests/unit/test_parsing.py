"""Parsing: the CloudEvents HTTP binding (binary and structured), bad JSON, media types."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest
from gateway_fakes import TOPIC, VALID, Gateway

from lgsp_common.problems import ProblemError
from lgsp_gateway.domain.intake import event_from_http, parse_json

STRUCTURED = "application/cloudevents+json"
SOURCE = "/sources/dvc-portal"
SPEC = {"ce-specversion": "1.0"}


async def test_malformed_json_answers_400(gateway: Gateway) -> None:
    answer = await gateway.publish(b"{nope")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/malformed-json")
    assert problem["instance"] == f"/v1/topics/{TOPIC}/events"


async def test_a_wrong_content_type_answers_415(gateway: Gateway) -> None:
    answer = await gateway.publish(b"a,b", **{"content-type": "text/csv"})
    assert answer.status_code == 415
    assert answer.json()["type"].endswith("/media-type")


async def test_a_content_type_with_parameters_is_accepted(gateway: Gateway) -> None:
    answer = await gateway.publish(**{"content-type": "application/json; charset=utf-8"})
    assert answer.status_code == 202


async def test_binary_mode_attributes_come_from_ce_headers(gateway: Gateway) -> None:
    answer = await gateway.publish(**{"ce-id": "evt-1", "ce-lgspregion": "vp"})
    assert answer.status_code == 202
    assert answer.json()["id"] == "evt-1"
    [record] = gateway.producer.on(TOPIC)
    assert record.header("ce_type") == "vn.gov.lgsp.tthc.dossier.submitted"
    assert record.header("ce_lgspregion") == "vp"
    assert record.header("ce_time")  # stamped on arrival


async def test_structured_mode_reads_the_whole_event_from_the_body(gateway: Gateway) -> None:
    event = {"specversion": "1.0", "id": "evt-s", "type": "t.x", "data": VALID}
    answer = await gateway.http.post(
        f"/v1/topics/{TOPIC}/events",
        content=orjson.dumps(event),
        headers={"content-type": STRUCTURED, "x-api-key": gateway.keys.source},
    )
    assert answer.status_code == 202, answer.text
    [record] = gateway.producer.on(TOPIC)
    assert record.header("ce_id") == "evt-s"
    assert record.header("ce_source") == SOURCE
    assert record.json() == VALID


async def test_a_structured_event_must_be_an_object(gateway: Gateway) -> None:
    answer = await gateway.http.post(
        f"/v1/topics/{TOPIC}/events",
        content=b"[1, 2]",
        headers={"content-type": STRUCTURED, "x-api-key": gateway.keys.source},
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/invalid-event")
    assert answer.json()["title"] == "A structured CloudEvent must be a JSON object"


async def test_missing_envelope_attributes_are_named(gateway: Gateway) -> None:
    headers = {"content-type": "application/json", "x-api-key": gateway.keys.source}
    answer = await gateway.http.post(f"/v1/topics/{TOPIC}/events", json=VALID, headers=headers)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("/invalid-event")
    assert "/type" in [e["pointer"] for e in problem["errors"]]


async def test_a_wrong_specversion_is_refused(gateway: Gateway) -> None:
    answer = await gateway.publish(**{"ce-specversion": "0.3"})
    assert answer.status_code == 422
    assert "/specversion" in [e["pointer"] for e in answer.json()["errors"]]


def test_binary_mode_defaults_source_and_time() -> None:
    headers = {"content-type": "application/json", "ce-type": "t", "ce-id": "1"} | SPEC
    event = event_from_http(headers, orjson.dumps(VALID), SOURCE)
    assert event.source == SOURCE
    assert isinstance(event.time, datetime)
    assert event.data == VALID


def test_an_explicit_source_is_kept_for_the_caller_check() -> None:
    headers = {"content-type": "application/json", "ce-type": "t", "ce-source": "/sources/x"}
    headers |= SPEC
    assert event_from_http(headers, b"{}", SOURCE).source == "/sources/x"


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        (None, b"{}", 415),
        ("application/json", b"", 400),
        ("application/json", b"\xff", 400),
        (STRUCTURED, b'"text"', 422),
    ],
)
def test_event_from_http_refusals(content_type: str | None, body: bytes, status: int) -> None:
    headers = {"ce-type": "t"} | ({"content-type": content_type} if content_type else {})
    with pytest.raises(ProblemError) as raised:
        event_from_http(headers, body, SOURCE)
    assert raised.value.problem.status == status


def test_parse_json_keeps_any_json_value() -> None:
    assert parse_json(b'[{"a": 1}, null]') == [{"a": 1}, None]
