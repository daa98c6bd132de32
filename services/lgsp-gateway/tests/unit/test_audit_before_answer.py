"""No acknowledgement without its audit record: every 2xx waits for the record's ack, and a record
Kafka does not take turns the call into a 503 that says what was written (issue 13, finding 2).

Each of these fails on the former fire-and-forget audit, which answered 202/207/200 at once.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from gateway_fakes import AUDIT, TOPIC, VALID, Gateway, started, unit_settings

PROBLEM = "application/problem+json"


def assert_audit_unavailable(answer: httpx.Response) -> str:
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.headers["retry-after"] == "7"
    problem = answer.json()
    assert problem["type"].endswith("/audit-unavailable")
    return str(problem["detail"])


async def test_a_202_leaves_only_after_its_audit_ack(gateway: Gateway) -> None:
    gateway.producer.ack_delay_s[AUDIT] = 0.2
    call = asyncio.create_task(gateway.publish())
    await asyncio.sleep(0.1)
    assert not call.done()  # the event is acked, its audit record is not yet
    answer = await call
    assert answer.status_code == 202
    [record] = [s.json() for s in gateway.producer.on(AUDIT)]
    assert record["event_ids"] == [answer.json()["id"]]


async def test_an_unaudited_publish_is_503_saying_the_event_was_written(gateway: Gateway) -> None:
    gateway.producer.failing.add(AUDIT)
    answer = await gateway.publish(**{"ce-id": "evt-written-1"})
    detail = assert_audit_unavailable(answer)
    assert "evt-written-1 was written" in detail
    assert "same ce-id is safe" in detail
    assert "does not deduplicate" in detail
    [event] = gateway.producer.on(TOPIC)  # the event is on the topic: the detail is the truth
    assert event.header("ce_id") == "evt-written-1"
    metrics = await gateway.metrics()
    assert 'gateway_audit_unavailable_total{reason="refused"} 1.0' in metrics
    assert 'reason="audit_unavailable"' in metrics


async def test_a_refusal_is_answered_as_it_is_without_its_record(gateway: Gateway) -> None:
    gateway.producer.failing.add(AUDIT)
    assert (await gateway.publish(key="")).status_code == 401
    assert (await gateway.publish({"nope": 1})).status_code == 422


async def test_beyond_the_pending_bound_a_publish_is_503_at_once() -> None:
    async with started(unit_settings(audit_max_pending=1)) as gateway:
        gateway.producer.ack_delay_s[AUDIT] = 0.3
        first = asyncio.create_task(gateway.publish())
        for _ in range(400):
            if gateway.producer.on(AUDIT):
                break
            await asyncio.sleep(0.005)
        second = await gateway.publish()  # answered before the first's audit ack
        assert not first.done()
        assert "overloaded" in assert_audit_unavailable(second)
        assert (await first).status_code == 202


@pytest.mark.parametrize("with_refused_item", [False, True])
async def test_an_unaudited_batch_is_503_saying_how_many_were_written(
    gateway: Gateway, with_refused_item: bool
) -> None:
    gateway.producer.failing.add(AUDIT)
    events = [
        {"specversion": "1.0", "id": f"b-{i}", "type": "vn.gov.lgsp.tthc.dossier.submitted"}
        | {"data": VALID}
        for i in range(2)
    ]
    if with_refused_item:
        events.append({"specversion": "1.0", "id": "bad", "type": "x", "data": {"nope": 1}})
    detail = assert_audit_unavailable(await gateway.batch(events))
    assert f"2 of the batch's {len(events)} events were written" in detail
    assert len(gateway.producer.on(TOPIC)) == 2


async def test_a_batch_waits_for_its_records(gateway: Gateway) -> None:
    gateway.producer.ack_delay_s[AUDIT] = 0.05
    events = [
        {"specversion": "1.0", "id": "ok", "type": "vn.gov.lgsp.tthc.dossier.submitted"}
        | {"data": VALID},
        {"specversion": "1.0", "id": "bad", "type": "x", "data": {"nope": 1}},
    ]
    answer = await gateway.batch(events)
    assert answer.status_code == 207
    assert gateway.log.count(f"ack:{AUDIT}") == 2  # both records acked before the answer


async def test_an_unaudited_population_read_is_not_relayed(gateway: Gateway) -> None:
    gateway.producer.failing.add(AUDIT)
    answer = await gateway.http.post(
        "/v1/population/verify",
        content=orjson.dumps({"cccd": "001099012345", "full_name": "Nguyễn Văn A"}),
        headers={"content-type": "application/json", "x-api-key": gateway.keys.consumer},
    )
    assert "not relayed" in assert_audit_unavailable(answer)
    assert "match" not in answer.text
    assert len(gateway.adapter.requests) == 1


async def test_a_503_of_the_broker_does_not_wait_for_its_record(gateway: Gateway) -> None:
    gateway.producer.failing.add(TOPIC)
    gateway.producer.ack_delay_s[AUDIT] = 0.3
    answer = await gateway.publish()
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/broker-unavailable")
    assert f"ack:{AUDIT}" not in gateway.log  # answered before its record's ack
    [record] = await gateway.audit(1)
    assert (record["result"], record["status_code"]) == ("error", 503)


async def test_audit_wait_off_answers_before_the_ack_and_still_writes_the_record() -> None:
    """`audit_wait=false` (measuring the audit's cost only) answers at the event's ack."""
    async with started(unit_settings(audit_wait=False)) as gateway:
        gateway.producer.ack_delay_s[AUDIT] = 5.0
        answer = await asyncio.wait_for(gateway.publish(), timeout=2.0)
        assert answer.status_code == 202
        [record] = [s.json() for s in gateway.producer.on(AUDIT)]
        assert record["event_ids"] == [answer.json()["id"]]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "gateway.example.vn"])
def test_audit_wait_off_is_refused_beyond_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="AUDIT_WAIT=false is for measuring"):
        unit_settings(audit_wait=False, host=host)
    assert unit_settings(audit_wait=False, host="127.0.0.1").audit_wait is False
