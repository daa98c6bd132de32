"""Authorisation: who may publish where (API keys, sources, topics), live from the registry copy."""

from __future__ import annotations

import pytest
from gateway_fakes import BARE_TOPIC, OTHER_TOPIC, TOPIC, VALID, Gateway, event_headers

from lgsp_gateway.domain.credentials import api_key_from

PROBLEM = "application/problem+json"


async def test_a_valid_source_key_on_its_own_topic_is_accepted(gateway: Gateway) -> None:
    answer = await gateway.publish()
    assert answer.status_code == 202, answer.text
    placed = answer.json()
    assert placed["topic"] == TOPIC
    assert placed["partition"] == 0 and placed["offset"] == 0
    [record] = gateway.producer.on(TOPIC)
    assert record.header("ce_id") == placed["id"]
    assert record.header("ce_source") == "/sources/dvc-portal"


@pytest.mark.parametrize("which", ["missing", "unknown", "revoked", "expired", "suspended"])
async def test_keys_that_do_not_authenticate_answer_401(gateway: Gateway, which: str) -> None:
    keys = {
        "missing": "",
        "unknown": "lgsp_0123abcd_" + "x" * 30,
        "revoked": gateway.keys.revoked,
        "expired": gateway.keys.expired,
        "suspended": gateway.keys.suspended,
    }
    answer = await gateway.publish(key=keys[which])
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert answer.headers["www-authenticate"] == 'Bearer realm="lgsp"'
    assert answer.json()["type"].endswith("/unauthenticated")
    assert gateway.producer.on(TOPIC) == []
    assert gateway.dead_letters() == []  # nobody to attribute the event to


async def test_a_consumer_key_cannot_publish(gateway: Gateway) -> None:
    answer = await gateway.publish(key=gateway.keys.consumer)
    assert answer.status_code == 401


async def test_a_source_may_publish_only_to_its_own_topic(gateway: Gateway) -> None:
    answer = await gateway.publish(key=gateway.keys.other_source)
    assert answer.status_code == 403
    problem = answer.json()
    assert problem["type"].endswith("/forbidden")
    assert f"may publish only to '{OTHER_TOPIC}'" in problem["detail"]
    assert gateway.dead_letters() == []


async def test_a_topic_without_a_contract_answers_404(gateway: Gateway) -> None:
    answer = await gateway.publish(key=gateway.keys.bare_source, topic=BARE_TOPIC)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/unknown-topic")


async def test_an_event_claiming_another_source_is_forbidden(gateway: Gateway) -> None:
    answer = await gateway.publish(**{"ce-source": "/sources/finance"})
    assert answer.status_code == 403
    assert "claims source '/sources/finance'" in answer.json()["detail"]


async def test_revocation_takes_effect_on_the_next_call(gateway: Gateway) -> None:
    assert (await gateway.publish()).status_code == 202  # the key is now cached
    key_id = "k_" + gateway.keys.source.split("_")[1]
    record = gateway.registry.get("api_key", key_id)
    assert record is not None
    gateway.registry.put("api_key", key_id, record | {"revoked_at": "2024-10-03T00:00:00Z"})
    assert (await gateway.publish()).status_code == 401


async def test_suspending_the_source_takes_effect_on_the_next_call(gateway: Gateway) -> None:
    assert (await gateway.publish()).status_code == 202
    gateway.registry.put(
        "source", "dvc-portal", {"id": "dvc-portal", "topic": TOPIC, "status": "suspended"}
    )
    assert (await gateway.publish()).status_code == 401


async def test_the_key_may_come_as_x_api_key(gateway: Gateway) -> None:
    headers = event_headers(None, **{"x-api-key": gateway.keys.source})
    answer = await gateway.http.post(f"/v1/topics/{TOPIC}/events", json=VALID, headers=headers)
    assert answer.status_code == 202


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"x-api-key": " abc "}, "abc"),
        ({"x-api-key": "abc", "authorization": "Bearer other"}, "abc"),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_api_key_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert api_key_from(headers) == expected
