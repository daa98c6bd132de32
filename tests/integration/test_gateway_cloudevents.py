"""Strict CloudEvents and NFC at the gateway, against the real broker, on both publish paths.

`ce-specversion` must be there and be `1.0`, `ce-type` must be the contract's `eventType`
(`vn.gov.lgsp.tthc.dossier.{status}`); each refusal is a 422 naming the attribute and a DLQ
record naming the rule. Payload text is put in NFC before validation and stored as NFC, unless
the contract keeps the bytes as sent (`x-lgsp.unicodeNormalization: none`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import unicodedata
import uuid
from typing import Any

import httpx
import pytest
from gateway_env import DOSSIER_SCHEMA, TYPE, VALID, Env, headers, read_all

from lgsp_devkit.testing import publish_registry_changes

pytestmark = pytest.mark.kafka
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
NAME = ("Nguyễn Thị Thanh Hương " * 14)[:300]  # 300 characters in NFC
NFD = unicodedata.normalize("NFD", NAME)


def errors_of(answer: httpx.Response) -> list[tuple[str, str]]:
    """Return (pointer, rule) of each error of a problem answer."""
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [(e["pointer"], e["rule"]) for e in answer.json()["errors"]]


def without(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the mapping without one key."""
    return {k: v for k, v in mapping.items() if k != name}


async def test_type_and_specversion_are_enforced_and_dead_lettered(env: Env) -> None:
    url = f"/v1/topics/{env.topic}/events"
    wrong_type = headers(env.key, **{"ce-type": "vn.gov.lgsp.tthc.dossier.published"})
    no_version = without(headers(env.key), "ce-specversion")
    old_version = headers(env.key, **{"ce-specversion": "0.3"})
    structured = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "t.x", "data": VALID}
    async with httpx.AsyncClient(base_url=env.url) as http:
        answers = {
            "wrong type": await http.post(url, json=VALID, headers=wrong_type),
            "no specversion": await http.post(url, json=VALID, headers=no_version),
            "specversion 0.3": await http.post(url, json=VALID, headers=old_version),
            "structured wrong type": await http.post(
                url,
                content=json.dumps(structured),
                headers={"content-type": STRUCTURED, "x-api-key": env.key},
            ),
            "structured no specversion": await http.post(
                url,
                content=json.dumps(without(structured, "specversion") | {"type": TYPE}),
                headers={"content-type": STRUCTURED, "x-api-key": env.key},
            ),
        }
        good = await http.post(url, json=VALID, headers=headers(env.key))
        metrics = (await http.get("/metrics")).text
    assert good.status_code == 202, good.text
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 422)
    assert errors_of(answers["wrong type"]) == [("/type", "eventType")]
    assert answers["wrong type"].json()["type"].endswith("/event-type")
    assert errors_of(answers["structured wrong type"]) == [("/type", "eventType")]
    assert errors_of(answers["no specversion"]) == [("/specversion", "required")]
    assert errors_of(answers["structured no specversion"]) == [("/specversion", "required")]
    assert [p for p, _ in errors_of(answers["specversion 0.3"])] == ["/specversion"]
    assert 'reason="event_type"' in metrics and 'reason="invalid_event"' in metrics

    letters = [json.loads(r.value) for r in await read_all(env.kafka, env.dlq, 5)]
    reasons = {d["event_id"]: {(r["pointer"], r["rule"]) for r in d["reasons"]} for d in letters}
    assert len(letters) == 5
    assert reasons[wrong_type["ce-id"]] == {("/type", "eventType")}
    assert reasons[no_version["ce-id"]] == {("/specversion", "required")}
    assert reasons[structured["id"]] == {("/type", "eventType")}
    stored = await read_all(env.kafka, env.topic, 1)
    assert [dict(r.headers)["ce_type"].decode() for r in stored] == [TYPE]


async def test_batch_events_are_held_to_the_same_rules(env: Env) -> None:
    def event(**change: Any) -> dict[str, Any]:
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": TYPE, "data": VALID} | change

    batch = [event(), event(type="t.x"), without(event(), "specversion")]
    async with httpx.AsyncClient(base_url=env.url) as http:
        answer = await http.post(
            f"/v1/topics/{env.topic}/batches",
            content=json.dumps(batch),
            headers={"content-type": BATCH, "x-api-key": env.key},
        )
    assert answer.status_code == 207, answer.text
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [202, 422, 422]
    assert [e["pointer"] for e in items[1]["problem"]["errors"]] == ["/type"]
    assert [e["pointer"] for e in items[2]["problem"]["errors"]] == ["/specversion"]
    letters = [json.loads(r.value) for r in await read_all(env.kafka, env.dlq, 2)]
    assert sorted(d["event_id"] for d in letters) == sorted([batch[1]["id"], batch[2]["id"]])


def named_schema(env: Env, version: int, normalisation: str | None) -> dict[str, Any]:
    """Return the dossier contract plus an optional 300-character `applicant_name`."""
    schema = copy.deepcopy(DOSSIER_SCHEMA)
    schema["$id"] = f"urn:test:{env.topic}:v{version}"
    schema["properties"]["applicant_name"] = {
        "type": "string",
        "maxLength": 300,
        "description": "Applicant (vi: người nộp)",
    }
    if normalisation:
        schema["x-lgsp"]["unicodeNormalization"] = normalisation
    return schema


async def register_named_versions(env: Env, http: httpx.AsyncClient) -> tuple[str, str]:
    """Register v2 (NFC, the default) and v3 (keeps bytes); wait for the gateway to know them."""
    nfc, keep = named_schema(env, 2, None), named_schema(env, 3, "none")
    await publish_registry_changes(
        env.kafka,
        env.registry,
        [
            ("contract", f"c2-{env.topic}", {"id": f"c2-{env.topic}", "subject": env.topic,
                                             "version": 2, "schema": nfc}),
            ("contract", f"c3-{env.topic}", {"id": f"c3-{env.topic}", "subject": env.topic,
                                             "version": 3, "schema": keep}),
        ],
    )  # fmt: skip
    probe = headers(env.key, **{"ce-dataschema": keep["$id"]})
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # an invalid payload: nothing is stored, the answer says whether v3 is known
        answer = await http.post(f"/v1/topics/{env.topic}/events", json={}, headers=probe)
        if not answer.json()["type"].endswith("/unknown-dataschema"):
            return nfc["$id"], keep["$id"]
        assert asyncio.get_running_loop().time() < deadline, "the gateway never saw v3"
        await asyncio.sleep(0.2)


async def test_nfd_text_is_validated_and_stored_as_nfc_unless_the_contract_keeps_bytes(
    env: Env,
) -> None:
    short = unicodedata.normalize("NFD", "Trần Văn Đức, Phường Phước Hưng")
    url = f"/v1/topics/{env.topic}/events"
    async with httpx.AsyncClient(base_url=env.url) as http:
        nfc_uri, keep_uri = await register_named_versions(env, http)
        long_nfd = headers(env.key, **{"ce-dataschema": nfc_uri})
        long_answer = await http.post(url, json={**VALID, "applicant_name": NFD}, headers=long_nfd)
        kept = headers(env.key, **{"ce-dataschema": keep_uri})
        kept_answer = await http.post(url, json={**VALID, "applicant_name": short}, headers=kept)
        too_long = await http.post(
            url, json={**VALID, "applicant_name": NFD}, headers=headers(env.key, **{
                "ce-dataschema": keep_uri})
        )  # fmt: skip
    assert len(NFD) > 300 and len(NAME) == 300
    assert long_answer.status_code == 202, long_answer.text
    assert kept_answer.status_code == 202, kept_answer.text
    # Kept as sent, the same name is over maxLength: the limit judged the encoding.
    assert too_long.status_code == 422
    assert errors_of(too_long) == [("/applicant_name", "maxLength")]

    records = {
        dict(r.headers)["ce_id"].decode(): r for r in await read_all(env.kafka, env.topic, 2)
    }
    stored = json.loads(records[long_nfd["ce-id"]].value)
    assert stored["applicant_name"] == NAME
    assert unicodedata.is_normalized("NFC", stored["applicant_name"])
    assert NFD.encode() not in records[long_nfd["ce-id"]].value
    assert json.loads(records[kept["ce-id"]].value)["applicant_name"] == short
    assert dict(records[kept["ce-id"]].headers)["ce_dataschema"].decode() == keep_uri
