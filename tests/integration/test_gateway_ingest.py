"""The gateway against the real broker: authenticated, contract-enforcing, audited ingest."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
import pytest
from gateway_env import DOSSIER_SCHEMA, TYPE, VALID, Env, headers, read_all

from lgsp_common.api_keys import hash_api_key
from lgsp_common.audit import verify_chain
from lgsp_devkit.testing import new_api_key, publish_registry_changes

pytestmark = pytest.mark.kafka


async def test_valid_event_is_acked_and_on_the_topic_with_its_headers(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.url) as http:
        sent = headers(env.key)
        answer = await http.post(f"/v1/topics/{env.topic}/events", json=VALID, headers=sent)
        assert answer.status_code == 202, answer.text
        structured = {"specversion": "1.0", "id": "evt-structured-1", "type": TYPE, "data": VALID}
        second = await http.post(
            f"/v1/topics/{env.topic}/events",
            content=json.dumps(structured),
            headers={"content-type": "application/cloudevents+json", "x-api-key": env.key},
        )
        assert second.status_code == 202, second.text
    records = await read_all(env.kafka, env.topic, 2)
    assert len(records) == 2
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    first = by_id[sent["ce-id"]]
    got = {k: v.decode() for k, v in first.headers}
    assert got["ce_source"] == "/sources/dvc-portal"
    assert got["ce_dataschema"] == DOSSIER_SCHEMA["$id"]
    assert got["ce_subject"] == VALID["dossier_id"] == first.key.decode()
    assert "traceparent" in got
    assert json.loads(by_id["evt-structured-1"].value) == VALID


async def test_every_rejection_class_answers_problem_json_and_lands_where_it_should(
    env: Env,
) -> None:
    url = f"/v1/topics/{env.topic}/events"
    invalid = {**VALID, "channel": "fax"}
    async with httpx.AsyncClient(base_url=env.url) as http:
        cases: list[tuple[str, httpx.Response, int, str | None]] = [
            ("no key", await http.post(url, json=VALID, headers=headers(None)), 401, None),
            (
                "wrong key",
                await http.post(url, json=VALID, headers=headers(new_api_key()[1])),
                401,
                None,
            ),
            (
                "revoked key",
                await http.post(url, json=VALID, headers=headers(env.revoked_key)),
                401,
                None,
            ),
            (
                "other source's topic",
                await http.post(
                    f"/v1/topics/{env.other_topic}/events", json=VALID, headers=headers(env.key)
                ),
                403,
                None,
            ),
            (
                "unknown topic (no contract)",
                await http.post(
                    f"/v1/topics/{env.other_topic}/events",
                    json=VALID,
                    headers=headers(env.other_key),
                ),
                404,
                None,
            ),
            (
                "malformed json",
                await http.post(url, content=b"{nope", headers=headers(env.key)),
                400,
                None,
            ),
            (
                "wrong content type",
                await http.post(
                    url, content=b"a,b", headers=headers(env.key, **{"content-type": "text/csv"})
                ),
                415,
                None,
            ),
            (
                "schema violation",
                await http.post(url, json=invalid, headers=headers(env.key)),
                422,
                "/channel",
            ),
            (
                "oversize body",
                await http.post(
                    url, content=b"[" + b"1," * 40_000 + b"1]", headers=headers(env.key)
                ),
                413,
                None,
            ),
            (
                "oversize batch",
                await http.post(
                    f"/v1/topics/{env.topic}/batches",
                    content=json.dumps([{}] * 6),
                    headers={
                        "content-type": "application/cloudevents-batch+json",
                        "x-api-key": env.key,
                    },
                ),
                413,
                None,
            ),
        ]
        for name, response, status, pointer in cases:
            assert response.status_code == status, (name, response.text)
            assert response.headers["content-type"] == "application/problem+json", name
            problem = response.json()
            assert problem["status"] == status and problem["title"], name
            if pointer:
                assert pointer in [e["pointer"] for e in problem["errors"]], name
        assert cases[0][1].headers["www-authenticate"].startswith("Bearer")
        metrics = (await http.get("/metrics")).text
    dead = await read_all(env.kafka, env.dlq, 5)
    reasons = {json.loads(r.value)["reasons"][0]["rule"] for r in dead}
    assert len(dead) == 5, [json.loads(r.value) for r in dead]  # 400, 415, 422, 2 x 413
    assert {"enum", "malformed_json", "media_type", "body_too_large", "batch_too_large"} <= reasons
    schema_letter = next(
        json.loads(r.value) for r in dead if json.loads(r.value)["reasons"][0]["rule"] == "enum"
    )
    assert schema_letter["reasons"][0]["pointer"] == "/channel"
    assert json.loads(schema_letter["payload"]) == invalid
    assert schema_letter["source"] == "/sources/dvc-portal"
    for reason in (
        "unauthenticated",
        "forbidden",
        "unknown_topic",
        "malformed_json",
        "media_type",
        "contract",
        "body_too_large",
        "batch_too_large",
    ):
        assert f'reason="{reason}"' in metrics, reason


async def test_revoked_key_and_new_contract_version_take_effect_live(env: Env) -> None:
    key_id = "k_" + env.key.split("_")[1]
    extended = copy.deepcopy(DOSSIER_SCHEMA)
    extended["$id"] = DOSSIER_SCHEMA["$id"].replace("v1.schema", "v2.schema")
    extended["properties"]["note"] = {"type": "string"}
    async with httpx.AsyncClient(base_url=env.url) as http:
        noted = {**VALID, "note": "bổ sung"}
        url = f"/v1/topics/{env.topic}/events"
        assert (await http.post(url, json=noted, headers=headers(env.key))).status_code == 422
        await publish_registry_changes(
            env.kafka,
            env.registry,
            [
                (
                    "contract",
                    f"c2-{env.topic}",
                    {
                        "id": f"c2-{env.topic}",
                        "subject": env.topic,
                        "version": 2,
                        "schema": extended,
                    },
                )
            ],
        )
        await eventually(http, url, noted, env.key, 202)
        named_v1 = headers(env.key, **{"ce-dataschema": DOSSIER_SCHEMA["$id"]})
        assert (await http.post(url, json=noted, headers=named_v1)).status_code == 422

        await publish_registry_changes(
            env.kafka,
            env.registry,
            [
                (
                    "api_key",
                    key_id,
                    {
                        "id": key_id,
                        "source_id": "dvc-portal",
                        "key_hash": hash_api_key(env.key),
                        "revoked_at": "2024-10-02",
                    },
                )
            ],
        )
        await eventually(http, url, VALID, env.key, 401)


async def eventually(http: httpx.AsyncClient, url: str, body: Any, key: str, status: int) -> None:
    """Post until the answer has `status` (the registry copy applies changes within seconds)."""
    last = None
    for _ in range(50):
        last = await http.post(url, json=body, headers=headers(key))
        if last.status_code == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still {last.status_code if last else None}, wanted {status}")


async def test_every_call_is_audited_on_an_intact_hash_chain(env: Env) -> None:
    url = f"/v1/topics/{env.topic}/events"
    async with httpx.AsyncClient(base_url=env.url) as http:
        ok = await http.post(url, json=VALID, headers=headers(env.key))
        await http.post(url, json=VALID, headers=headers(None))
        await http.post(url, json={"x": 1}, headers=headers(env.key))
    records = await read_all(env.kafka, env.audit, 3)
    audit = [json.loads(r.value) for r in records]
    assert [a["result"] for a in sorted(audit, key=lambda a: a["seq"])] == [
        "success",
        "denied",
        "rejected",
    ]
    assert audit[0]["event_ids"] == [ok.json()["id"]]
    assert not any("payload" in a or "dossier_id" in json.dumps(a) for a in audit)
    assert verify_chain(audit, {"gateway-local": b"change-me-local-audit-key"}) == []
