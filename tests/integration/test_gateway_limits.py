"""The gateway against the real broker: per-source rate limits and batches answered per event."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from gateway_env import TYPE, VALID, Env, headers, read_all

pytestmark = pytest.mark.kafka


@pytest.mark.rate(2.0, 20.0)
async def test_rate_limit_answers_429_with_retry_after(env: Env) -> None:
    url = f"/v1/topics/{env.topic}/events"
    async with httpx.AsyncClient(base_url=env.url) as http:
        statuses = []
        for _ in range(3):
            batch = [
                {"specversion": "1.0", "id": str(uuid.uuid4()), "type": TYPE, "data": VALID}
                for _ in range(5)
            ]
            response = await http.post(
                f"/v1/topics/{env.topic}/batches",
                content=json.dumps(batch),
                headers={
                    "content-type": "application/cloudevents-batch+json",
                    "x-api-key": env.key,
                },
            )
            statuses.append(response.status_code)
        limited = await http.post(url, json=VALID, headers=headers(env.key))
        limited_too = [limited] + [
            await http.post(url, json=VALID, headers=headers(env.key)) for _ in range(30)
        ]
    assert statuses == [202, 202, 202]
    refused = [r for r in limited_too if r.status_code == 429]
    assert refused, [r.status_code for r in limited_too]
    assert int(refused[0].headers["retry-after"]) >= 1
    assert refused[0].headers["content-type"] == "application/problem+json"


async def test_batch_reports_each_event_and_produces_the_valid_ones(env: Env) -> None:
    good = [{"specversion": "1.0", "id": f"b-{i}", "type": TYPE, "data": VALID} for i in range(3)]
    bad = {"specversion": "1.0", "id": "b-bad", "type": TYPE, "data": {**VALID, "level": "x"}}
    async with httpx.AsyncClient(base_url=env.url) as http:
        response = await http.post(
            f"/v1/topics/{env.topic}/batches",
            content=json.dumps([*good[:2], bad, good[2]]),
            headers={"content-type": "application/cloudevents-batch+json", "x-api-key": env.key},
        )
    assert response.status_code == 207, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == [202, 202, 422, 202]
    assert items[2]["problem"]["errors"][0]["pointer"] == "/level"
    assert all(isinstance(i["offset"], int) for i in items if i["status"] == 202)
    records = await read_all(env.kafka, env.topic, 3)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == ["b-0", "b-1", "b-2"]
