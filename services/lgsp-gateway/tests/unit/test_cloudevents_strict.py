"""Strict CloudEvents and NFC: specversion 1.0, the contract's event type, payload text in NFC.

The fakes' contract versions 1 and 2 declare no `eventType`; tests here register versions 3
(keeping bytes as sent) and 4 (the latest), which do, on both single-event paths and in batches.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson
import pytest
from gateway_fakes import TOPIC, VALID, Gateway, dossier_schema

from lgsp_gateway.domain.contracts import Contract, EventType

TEMPLATE = "vn.gov.lgsp.tthc.dossier.{status}"
RIGHT = "vn.gov.lgsp.tthc.dossier.received"
KEEP_URI, STRICT_URI = "urn:test:tthc.dossier:v3", "urn:test:tthc.dossier:v4"
NAME = ("Nguyễn Thị Hương " * 20)[:300]
NFD = unicodedata.normalize("NFD", NAME)


def strict_schema(uri: str, normalisation: str | None = None) -> dict[str, Any]:
    """Return v2 of the fakes' contract plus an event type and a 300-character name."""
    schema = dossier_schema(2)
    schema["$id"] = uri
    schema["properties"]["applicant_name"] = {"type": "string", "maxLength": 300}
    schema["x-lgsp"] = {"entityKey": "dossier_id", "eventType": TEMPLATE}
    if normalisation:
        schema["x-lgsp"]["unicodeNormalization"] = normalisation
    return schema


@pytest.fixture
def strict(gateway: Gateway) -> Gateway:
    """Register the strict versions 3 (keeps bytes as sent) and 4 (the latest: NFC)."""
    for version, uri, mode in ((3, KEEP_URI, "none"), (4, STRICT_URI, None)):
        entry = {"id": f"c-strict-{version}", "subject": TOPIC, "version": version}
        gateway.registry.put("contract", entry["id"], entry | {"schema": strict_schema(uri, mode)})
    return gateway


def pointers(answer: Any) -> list[tuple[str, str]]:
    """Return (pointer, rule) of each error of a problem answer."""
    return [(e["pointer"], e["rule"]) for e in answer.json()["errors"]]


async def rejected(gateway: Gateway, reason: str) -> bool:
    """Say whether the rejection metric counted `reason`."""
    return f'reason="{reason}"' in await gateway.metrics()


async def test_the_contracts_event_type_is_accepted(strict: Gateway) -> None:
    answer = await strict.publish(**{"ce-type": RIGHT})
    assert answer.status_code == 202, answer.text
    [record] = strict.producer.on(TOPIC)
    assert record.header("ce_type") == RIGHT
    assert record.header("ce_dataschema") == STRICT_URI


async def test_a_wrong_event_type_is_422_naming_type_and_dead_lettered(strict: Gateway) -> None:
    answer = await strict.publish(**{"ce-type": "vn.gov.lgsp.tthc.dossier.submitted"})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/event-type")
    assert pointers(answer) == [("/type", "eventType")]
    assert "'vn.gov.lgsp.tthc.dossier.received'" in answer.json()["errors"][0]["message"]
    [letter] = strict.dead_letters()
    assert [(r["pointer"], r["rule"]) for r in letter["reasons"]] == [("/type", "eventType")]
    assert await rejected(strict, "event_type")
    assert strict.producer.on(TOPIC) == []


async def test_a_wrong_structured_type_is_refused_too(strict: Gateway) -> None:
    event = {"specversion": "1.0", "id": "s-1", "type": "t.x", "data": VALID}
    answer = await strict.http.post(
        f"/v1/topics/{TOPIC}/events",
        content=orjson.dumps(event),
        headers={"content-type": "application/cloudevents+json", "x-api-key": strict.keys.source},
    )
    assert answer.status_code == 422
    assert pointers(answer) == [("/type", "eventType")]
    assert [d["event_id"] for d in strict.dead_letters()] == ["s-1"]


async def test_a_payload_and_type_both_wrong_name_both(strict: Gateway) -> None:
    answer = await strict.publish({**VALID, "level": "x"}, **{"ce-type": "t.x"})
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/contract")
    assert pointers(answer) == [("/level", "additionalProperties"), ("/type", "eventType")]


async def test_a_missing_specversion_is_422_and_dead_lettered(gateway: Gateway) -> None:
    headers = {
        "content-type": "application/json",
        "ce-type": "t.x",
        "x-api-key": gateway.keys.source,
    }
    answer = await gateway.http.post(f"/v1/topics/{TOPIC}/events", json=VALID, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/invalid-event")
    assert pointers(answer) == [("/specversion", "required")]
    [letter] = gateway.dead_letters()
    assert letter["reasons"][0]["pointer"] == "/specversion"
    assert await rejected(gateway, "invalid_event")


async def test_a_missing_specversion_in_structured_mode_is_refused(gateway: Gateway) -> None:
    answer = await gateway.http.post(
        f"/v1/topics/{TOPIC}/events",
        content=orjson.dumps({"id": "s-2", "type": "t.x", "data": VALID}),
        headers={"content-type": "application/cloudevents+json", "x-api-key": gateway.keys.source},
    )
    assert answer.status_code == 422
    assert ("/specversion", "required") in pointers(answer)


async def test_a_missing_specversion_is_named_with_the_other_attribute_errors(
    gateway: Gateway,
) -> None:
    headers = {"content-type": "application/json", "x-api-key": gateway.keys.source}
    answer = await gateway.http.post(f"/v1/topics/{TOPIC}/events", json=VALID, headers=headers)
    assert {p for p, _ in pointers(answer)} == {"/specversion", "/type"}


async def test_batch_items_are_held_to_the_same_rules(strict: Gateway) -> None:
    def item(event_id: str, **change: Any) -> dict[str, Any]:
        return {"specversion": "1.0", "id": event_id, "type": RIGHT, "data": VALID} | change

    unversioned = {k: v for k, v in item("b-2").items() if k != "specversion"}
    answer = await strict.batch([item("b-0"), item("b-1", type="t.x"), unversioned])
    assert answer.status_code == 207, answer.text
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [202, 422, 422]
    assert items[1]["problem"]["errors"][0]["pointer"] == "/type"
    assert items[2]["problem"]["errors"][0]["pointer"] == "/specversion"
    assert [d["event_id"] for d in strict.dead_letters()] == ["b-1", "b-2"]


async def test_an_nfd_payload_is_validated_and_stored_as_nfc(strict: Gateway) -> None:
    payload = {**VALID, "applicant_name": NFD}
    assert len(NFD) > 300  # over maxLength in its encoding, not in its text
    answer = await strict.publish(payload, **{"ce-type": RIGHT})
    assert answer.status_code == 202, answer.text
    [record] = strict.producer.on(TOPIC)
    assert record.json()["applicant_name"] == NAME
    assert len(record.json()["applicant_name"]) == 300


async def test_a_contract_may_keep_the_bytes_as_sent(strict: Gateway) -> None:
    short = unicodedata.normalize("NFD", "Bà Rịa–Vũng Tàu")
    payload = {**VALID, "applicant_name": short}
    answer = await strict.publish(payload, **{"ce-type": RIGHT, "ce-dataschema": KEEP_URI})
    assert answer.status_code == 202, answer.text
    [record] = strict.producer.on(TOPIC)
    assert record.json()["applicant_name"] == short
    too_long = await strict.publish(
        {**VALID, "applicant_name": NFD}, **{"ce-type": RIGHT, "ce-dataschema": KEEP_URI}
    )
    assert too_long.status_code == 422
    assert pointers(too_long) == [("/applicant_name", "maxLength")]


async def test_keys_that_are_one_text_in_two_encodings_are_refused(strict: Gateway) -> None:
    body = (
        b'{"dossier_id": "000.00.01.H03-1", "status": "received", "t\\u00ean": 1, "te\\u0302n": 2}'
    )
    answer = await strict.publish(body, **{"ce-type": RIGHT})
    assert answer.status_code == 422
    assert pointers(answer) == [("/tên", "unicodeNormalization")]
    assert len(strict.dead_letters()) == 1


def test_the_type_matcher_follows_the_contract_test_rule() -> None:
    matcher = EventType.compile("vn.gov.lgsp.a.{kind}.{status}")
    assert matcher.error("vn.gov.lgsp.a.x.done", {"kind": "x", "status": "done"}) is None
    assert matcher.error("vn.gov.lgsp.a.x.open", {"kind": "x", "status": "done"}) is not None
    # A placeholder whose field the payload lacks matches one segment (validation names it).
    assert matcher.error("vn.gov.lgsp.a.x.done", {"kind": "x"}) is None
    assert matcher.error("vn.gov.lgsp.a.x.y.z", {"kind": "x"}) is not None
    fixed = EventType.compile("vn.gov.lgsp.b.reported")
    assert fixed.error("vn.gov.lgsp.b.reported", {}) is None
    assert fixed.error("vn.gov.lgsp.b.Reported", {}) is not None


def test_a_contract_without_an_event_type_accepts_any_type() -> None:
    contract = Contract.compile(TOPIC, 1, dossier_schema(1))
    assert contract.event_type is None
    assert contract.type_error("anything", VALID) is None
    assert contract.normalise_text


async def test_nfd_sent_as_ascii_json_escapes_is_normalised_too(strict: Gateway) -> None:
    # An ASCII body skips the walk only when it has no \u escape: this one spells NFD in them.
    body = orjson.dumps({**VALID, "applicant_name": "x"}).replace(b'"x"', b'"Be\\u0302n Tre"')
    assert body.isascii()
    answer = await strict.publish(body, **{"ce-type": RIGHT})
    assert answer.status_code == 202, answer.text
    [record] = strict.producer.on(TOPIC)
    assert record.json()["applicant_name"] == "Bên Tre"
