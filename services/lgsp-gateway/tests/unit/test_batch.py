"""Batches: 202 when every event was placed after its ack, 207 with per-event fates otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fakes import TOPIC, VALID, Gateway

from lgsp_gateway.service.batch_after_ack import BatchResult, ItemResult


@pytest.fixture
def fast_lane() -> bool:
    """Batches always take the FastAPI route; one gateway flavour is enough."""
    return True


def event(event_id: str, data: Any = None) -> dict[str, Any]:
    """Return a structured CloudEvent for a batch."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": "t.x",
        "data": VALID if data is None else data,
    }


async def test_an_all_valid_batch_answers_202_with_each_placement(gateway: Gateway) -> None:
    answer = await gateway.batch([event("b-0"), event("b-1"), event("b-2")])
    assert answer.status_code == 202, answer.text
    items = answer.json()["items"]
    assert [(i["index"], i["id"], i["status"]) for i in items] == [
        (0, "b-0", 202),
        (1, "b-1", 202),
        (2, "b-2", 202),
    ]
    assert [i["offset"] for i in items] == [0, 1, 2]
    records = gateway.producer.on(TOPIC)
    assert [r.header("ce_id") for r in records] == ["b-0", "b-1", "b-2"]
    assert {r.header("ce_source") for r in records} == {"/sources/dvc-portal"}
    [audit] = await gateway.audit(1)
    assert (audit["result"], audit["status_code"]) == ("success", 202)
    assert audit["event_ids"] == ["b-0", "b-1", "b-2"]


async def test_a_mixed_batch_answers_207_and_produces_only_the_valid_ones(
    gateway: Gateway,
) -> None:
    bad = event("b-bad", {**VALID, "status": "lost"})
    answer = await gateway.batch([event("b-0"), bad, "not an object", event("b-3")])
    assert answer.status_code == 207
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [202, 422, 422, 202]
    assert items[1]["problem"]["errors"][0]["pointer"] == "/status"
    assert items[2]["id"] is None
    assert items[2]["problem"]["title"] == "Each batch item must be a CloudEvent object"
    assert [r.header("ce_id") for r in gateway.producer.on(TOPIC)] == ["b-0", "b-3"]
    letters = gateway.dead_letters()
    assert [d["event_id"] for d in letters] == ["b-bad", "item-2"]
    assert letters[1]["payload"] == '"not an object"'


async def test_an_item_claiming_another_source_is_refused_alone(gateway: Gateway) -> None:
    stranger = event("b-x") | {"source": "/sources/finance"}
    answer = await gateway.batch([event("b-0"), stranger])
    assert answer.status_code == 207
    assert [i["status"] for i in answer.json()["items"]] == [202, 403]


async def test_an_item_with_an_unknown_dataschema_is_refused_alone(gateway: Gateway) -> None:
    answer = await gateway.batch([event("b-0") | {"dataschema": "urn:none"}, event("b-1")])
    assert answer.status_code == 207
    items = answer.json()["items"]
    assert items[0]["problem"]["type"].endswith("/unknown-dataschema")


async def test_unacked_events_are_503_items_and_never_reported_placed(gateway: Gateway) -> None:
    gateway.producer.failing.add(TOPIC)
    answer = await gateway.batch([event("b-0"), event("b-1")])
    assert answer.status_code == 207
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [503, 503]
    assert all(i["offset"] is None for i in items)
    [audit] = await gateway.audit(1)
    assert (audit["result"], audit["status_code"], audit["event_ids"]) == ("error", 503, [])
    assert 'reason="broker_unavailable"' in await gateway.metrics()


@pytest.mark.parametrize(
    ("media", "body", "status", "reason"),
    [
        ("application/json", b"[]", 415, "media-type"),
        (None, b"[{", 400, "malformed-json"),
        (None, b"[]", 422, "invalid-event"),
        (None, b'{"id": "x"}', 422, "invalid-event"),
        (None, b"[" + b"{}," * 4 + b"{}]", 413, "batch-too-large"),
    ],
)
async def test_whole_batch_refusals(
    gateway: Gateway, media: str | None, body: bytes, status: int, reason: str
) -> None:
    answer = await gateway.batch(body, media=media)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/" + reason)
    assert gateway.producer.on(TOPIC) == []
    assert len(gateway.dead_letters()) == 1


async def test_a_batch_needs_a_source_key_for_the_topic(gateway: Gateway) -> None:
    assert (await gateway.batch([event("b")], key="")).status_code == 401
    assert (await gateway.batch([event("b")], key=gateway.keys.other_source)).status_code == 403
    assert gateway.dead_letters() == []


def test_batch_status_is_202_only_when_every_item_was_placed() -> None:
    assert BatchResult([ItemResult(0, "a", 202), ItemResult(1, "b", 202)]).status == 202
    assert BatchResult([ItemResult(0, "a", 202), ItemResult(1, "b", 503)]).status == 207
