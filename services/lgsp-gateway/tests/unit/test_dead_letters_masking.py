"""DLQ records never keep personal data in clear, yet still say what was sent where and why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from lgsp_common.problems import FieldError
from lgsp_gateway.adapters.dead_letters import (
    DeadLetters,
    masked_event_id,
    redact_payload,
    registry_schemas,
)
from lgsp_gateway.domain.redaction import MASK, FieldPolicy

CCCD = "079203004567"
TOPIC = "health.medical-visit.v1"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "visit_id": {"type": "string"},
        "facility_code": {"type": "string", "pattern": "^[0-9]{5}$"},
        "telemedicine": {"type": "boolean"},
        "patient": {
            "type": "object",
            "properties": {
                "cccd": {"type": "string", "x-lgsp-personal": True},
                "district_code": {"type": "string"},
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
POLICY = FieldPolicy.of([SCHEMA])


def _redacted(document: Any, policy: FieldPolicy | None = POLICY) -> tuple[Any, list[Any]]:
    text, found = redact_payload(orjson.dumps(document), policy)
    return orjson.loads(text), found.masked


def test_the_policy_reads_declared_and_personal_pointers() -> None:
    assert "/patient/cccd" in POLICY.personal
    assert {"/visit_id", "/patient/district_code", "/notes/*"} <= POLICY.declared


def test_declared_values_stay_and_a_cccd_in_free_text_is_masked() -> None:
    sent = {"visit_id": "V-1", "facility_code": CCCD, "notes": [f"CCCD {CCCD} của bệnh nhân"]}
    payload, masked = _redacted(sent)
    assert payload["visit_id"] == "V-1"
    assert payload["facility_code"] == "079*******67"
    assert payload["notes"] == ["CCCD 079*******67 của bệnh nhân"]
    assert {m["pointer"] for m in masked} == {"/facility_code", "/notes/0"}
    assert all(m["why"] == "identifier" for m in masked)


def test_personal_and_undeclared_values_are_masked_keeping_type_and_length() -> None:
    sent = {
        "telemedicine": "yes",
        "patient": {"cccd": "A" + CCCD, "district_code": "747"},
        "patient_name": "Nguyễn Văn A",
        "extra": {"so_the": 12345, "ok": True, "none": None},
    }
    payload, masked = _redacted(sent)
    assert payload["telemedicine"] == "yes"  # declared: the wrong value helps diagnose
    assert payload["patient"] == {"cccd": MASK, "district_code": "747"}
    assert payload["patient_name"] == MASK
    assert payload["extra"] == {"so_the": MASK, "ok": True, "none": None}
    assert {m["pointer"]: (m["type"], m["length"], m["why"]) for m in masked} == {
        "/patient/cccd": ("string", 13, "personal"),
        "/patient_name": ("string", 12, "undeclared"),
        "/extra/so_the": ("integer", 5, "undeclared"),
    }


def test_a_cccd_as_a_key_is_masked_in_the_payload_and_in_the_pointer() -> None:
    payload, masked = _redacted({CCCD: "x"})
    assert payload == {"079*******67": MASK}
    assert masked == [
        {"pointer": "/079*******67", "type": "key", "length": 12, "why": "identifier"},
        {"pointer": "/079*******67", "type": "string", "length": 1, "why": "undeclared"},
    ]
    payload, masked = _redacted({"visit_id": "V", CCCD: True}, policy=None)
    assert payload == {"visit_id": "V", "079*******67": True}  # the key alone was masked
    assert [m["type"] for m in masked] == ["key"]


def test_unknown_contracts_mask_identifiers_everywhere() -> None:
    payload, _ = _redacted({"ghi_chu": f"so {CCCD}", "n": 1}, policy=None)
    assert payload == {"ghi_chu": "so 079*******67", "n": 1}


def test_a_batch_item_envelope_is_kept_and_its_data_follows_the_contract() -> None:
    item = {"specversion": "1.0", "id": "e-1", "type": "t", "x-extra": CCCD,
            "data": {"visit_id": "V-2", "patient_name": "Trần Thị B"}}  # fmt: skip
    payload, masked = _redacted(item)
    assert payload["id"] == "e-1" and payload["x-extra"] == MASK
    assert payload["data"] == {"visit_id": "V-2", "patient_name": MASK}
    assert {m["pointer"] for m in masked} == {"/x-extra", "/data/patient_name"}


def test_text_that_is_not_json_has_its_identifiers_masked() -> None:
    text, found = redact_payload(f"cccd={CCCD}&name=x".encode(), POLICY)
    assert text == "cccd=079*******67&name=x"
    assert found.masked == [{"pointer": "", "type": "text", "length": 24, "why": "identifier"}]


def test_nothing_to_mask_keeps_the_bytes_as_sent() -> None:
    body = b'{ "visit_id" : "V-3" }'
    assert redact_payload(body, POLICY)[0] == body.decode()


async def test_the_record_masks_reasons_too_and_lists_what_it_masked() -> None:
    producer = _Producer()
    failures = Counter("f", "f", ["kind"], registry=CollectorRegistry())
    schemas = registry_schemas(_Entries([{"subject": TOPIC, "schema": SCHEMA}]))
    letters = DeadLetters(producer, "lgsp.dlq", failures, schemas)  # type: ignore[arg-type]
    body = {"visit_id": "V-4", "patient_name": "Nguyễn Văn A", "facility_code": CCCD}
    reasons = [
        FieldError(pointer="/patient_name", rule="additionalProperties",
                   message="Additional properties are not allowed ('patient_name' was unexpected)"),
        FieldError(pointer="/facility_code", rule="pattern",
                   message=f'"{CCCD}" does not match "^[0-9]{{5}}$"'),
        FieldError(pointer="/type", rule="eventType", message="got 'Nguyễn Văn A'"),
    ]  # fmt: skip
    await letters.send(event_id="e-4", topic=TOPIC, source_id="s", received_at=datetime.now(UTC),
                       reasons=reasons, payload=orjson.dumps(body))  # fmt: skip
    [(topic, value)] = producer.sent
    record = orjson.loads(value)
    assert topic == "lgsp.dlq"
    assert CCCD not in value.decode() and "Nguyễn Văn A" not in value.decode()
    assert [r["pointer"] for r in record["reasons"]] == ["/patient_name", "/facility_code", "/type"]
    assert record["reasons"][1]["message"] == '"079*******67" does not match "^[0-9]{5}$"'
    assert record["reasons"][2]["message"] == f"got {MASK}"
    assert {m["pointer"] for m in record["masked"]} == {"/patient_name", "/facility_code"}


class _Entries:
    def __init__(self, contracts: list[dict[str, Any]]) -> None:
        self._contracts = contracts

    def items(self, kind: str) -> list[dict[str, Any]]:
        return self._contracts if kind == "contract" else []


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_an_event_id_is_masked_only_when_it_is_a_bare_number() -> None:
    assert masked_event_id(CCCD) == "079*******67"
    assert masked_event_id("271234567") == "27*****67"
    uuid = "0192265e-9c12-7a44-8e51-123456789012"  # a 12-digit group: still the id
    assert masked_event_id(uuid) == uuid
