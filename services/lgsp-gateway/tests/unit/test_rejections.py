"""Rejection mapping: each refusal class -> status, problem+json, DLQ record, metric, audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from gateway_fakes import AUDIT, OTHER_TOPIC, TOPIC, VALID, Gateway, started, unit_settings

from lgsp_common.audit import verify_chain
from lgsp_gateway.domain.rejections import INPUT_STATUSES, Rejection, forbidden, too_large

TRACEPARENT = "00-0af7651916cd43dd8448eb211c6f319c-b7ad6b7169203331-01"


@dataclass(frozen=True)
class Case:
    """One refusal class and where it must land."""

    reason: str
    status: int
    dead_lettered: bool
    audit_result: str
    body: Any = None
    headers: dict[str, str] | None = None
    key: str | None = None  # a Keys attribute name; None = the source's own key
    topic: str = TOPIC


CASES = [
    Case("unauthenticated", 401, False, "denied", key="revoked"),
    Case("forbidden", 403, False, "denied", key="other_source"),
    Case("unknown_topic", 404, False, "rejected", key="bare_source", topic="health.visits.v1"),
    Case("body_too_large", 413, True, "rejected", body=b"[" + b"1," * 3000 + b"1]"),
    Case("malformed_json", 400, True, "rejected", body=b'{"dossier_id": '),
    Case("media_type", 415, True, "rejected", headers={"content-type": "text/csv"}),
    Case("invalid_event", 422, True, "rejected", headers={"ce-type": ""}),
    Case("contract", 422, True, "rejected", body={**VALID, "status": "lost"}),
    Case("unknown_dataschema", 422, True, "rejected", headers={"ce-dataschema": "urn:x"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
async def test_each_refusal_lands_where_it_should(gateway: Gateway, case: Case) -> None:
    key = getattr(gateway.keys, case.key) if case.key else None
    headers = {"ce-id": "evt-refused", "traceparent": TRACEPARENT, **(case.headers or {})}
    answer = await gateway.publish(case.body, key=key, topic=case.topic, **headers)

    assert answer.status_code == case.status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == case.status and problem["title"]
    assert problem["type"] == "https://lgsp.example.gov.vn/problems/" + case.reason.replace(
        "_", "-"
    )
    assert problem["instance"] == f"/v1/topics/{case.topic}/events"

    dead = gateway.dead_letters()
    assert len(dead) == (1 if case.dead_lettered else 0)
    if case.dead_lettered:
        assert dead[0]["event_id"] == "evt-refused"
        assert dead[0]["original_topic"] == TOPIC
        assert dead[0]["source"] == "/sources/dvc-portal"
        assert dead[0]["traceparent"] == TRACEPARENT
        assert dead[0]["reasons"]
        [sent] = gateway.producer.on("lgsp.dlq")
        assert sent.key == b"evt-refused"
        assert sent.header("traceparent") == TRACEPARENT

    [audit] = await gateway.audit(1)
    assert audit["result"] == case.audit_result
    assert audit["status_code"] == case.status
    assert audit["action"] == "event.publish"
    assert audit["event_ids"] == ["evt-refused"]
    assert gateway.producer.on(case.topic) == []

    metric = next(
        line
        for line in (await gateway.metrics()).splitlines()
        if line.startswith("gateway_events_rejected_total{") and f'reason="{case.reason}"' in line
    )
    assert metric.endswith(" 1.0")


async def test_schema_violations_reach_the_dlq_with_every_pointer(gateway: Gateway) -> None:
    invalid = {"dossier_id": "abc", "status": "lost", "fax": True}
    assert (await gateway.publish(invalid)).status_code == 422
    [letter] = gateway.dead_letters()
    assert sorted(r["pointer"] for r in letter["reasons"]) == ["/dossier_id", "/fax", "/status"]
    assert orjson.loads(letter["payload"]) == invalid
    assert letter["payload_truncated"] is False


async def test_the_dlq_keeps_only_the_head_of_a_huge_payload() -> None:
    async with started(unit_settings(max_body_bytes=200_000)) as gateway:
        huge = {"dossier_id": "x" * 70_000, "status": "lost"}
        assert (await gateway.publish(huge)).status_code == 422
        [letter] = gateway.dead_letters()
    assert letter["payload_truncated"] is True
    assert len(letter["payload"]) == 65_536


async def test_an_oversize_body_is_never_read_past_the_limit(gateway: Gateway) -> None:
    answer = await gateway.publish(b"[" + b"1," * 5000 + b"1]")
    assert answer.status_code == 413
    assert answer.json()["detail"] == "the limit is 4096"
    [letter] = gateway.dead_letters()
    assert len(letter["payload"]) == 4097


async def test_no_ack_answers_503_with_retry_after_and_is_not_dead_lettered(
    gateway: Gateway,
) -> None:
    gateway.producer.failing.add(TOPIC)
    answer = await gateway.publish(**{"ce-id": "evt-lost"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    problem = answer.json()
    assert problem["type"].endswith("/broker-unavailable")
    assert "send it again" in problem["detail"]
    assert gateway.dead_letters() == []
    [audit] = await gateway.audit(1)
    assert (audit["result"], audit["status_code"], audit["event_ids"]) == (
        "error",
        503,
        ["evt-lost"],
    )
    assert 'reason="broker_unavailable"' in await gateway.metrics()


async def test_an_anonymous_refusal_is_audited_as_anonymous(gateway: Gateway) -> None:
    assert (await gateway.publish(key="")).status_code == 401
    [audit] = await gateway.audit(1)
    assert audit["actor"] == {"kind": "anonymous"}
    assert 'source="anonymous"' in await gateway.metrics()


async def test_every_call_is_on_one_intact_signed_chain(gateway: Gateway) -> None:
    ok = await gateway.publish()
    await gateway.publish(key="")
    await gateway.publish(key=gateway.keys.other_source, topic=OTHER_TOPIC)
    await gateway.publish({"nope": 1})
    records = await gateway.audit(4)
    assert [r["result"] for r in sorted(records, key=lambda r: r["seq"])] == [
        "success",
        "denied",
        "success",
        "rejected",
    ]
    assert records[0]["event_ids"] == [ok.json()["id"]]
    assert records[0]["actor"] == {"kind": "source", "id": "dvc-portal"}
    assert verify_chain(records, {"unit": b"unit-audit-key"}) == []
    assert not any("dossier_id" in orjson.dumps(r).decode() for r in records)
    [chain] = {s.key for s in gateway.producer.on(AUDIT)}  # one chain, this process start's
    assert chain.startswith(b"lgsp-gateway/unit-1/")


async def test_accepted_events_are_counted(gateway: Gateway) -> None:
    for _ in range(2):
        assert (await gateway.publish()).status_code == 202
    text = await gateway.metrics()
    assert 'gateway_events_accepted_total{source="dvc-portal",topic="tthc.dossier.v1"} 2.0' in text


async def test_an_unexpected_error_is_a_500_problem_on_either_path(gateway: Gateway) -> None:
    runtime = gateway.app.state.runtime

    async def explode(topic: str, headers: Any, body: bytes) -> Any:
        raise RuntimeError("boom")

    runtime.publish.publish = explode
    transport = httpx.ASGITransport(app=gateway.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        answer = await http.post(f"/v1/topics/{TOPIC}/events", json=VALID)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Internal error"


def test_input_faults_are_exactly_the_dlq_statuses() -> None:
    assert frozenset({400, 413, 415, 422}) == INPUT_STATUSES


@pytest.mark.parametrize(
    ("status", "result"), [(401, "denied"), (403, "denied"), (422, "rejected"), (503, "error")]
)
def test_audit_result_follows_the_status(status: int, result: str) -> None:
    assert Rejection(status, "r", "t").audit_result == result


def test_rejection_helpers_set_reason_type_and_headers() -> None:
    refused = forbidden("no")
    assert (refused.reason, refused.problem.status, refused.problem.detail) == (
        "forbidden",
        403,
        "no",
    )
    batch = too_large(5, "batch")
    assert batch.reason == "batch_too_large"
    assert batch.problem.type.endswith("/batch-too-large")
    limited = Rejection(429, "rate_limited", "Too many", headers={"Retry-After": "2"})
    assert limited.headers == {"Retry-After": "2"}
