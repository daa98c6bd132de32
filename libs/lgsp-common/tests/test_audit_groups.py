"""Group records: the calls submitted in one turn of the loop share one signed chain record."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lgsp_common.audit import AuditTrail, calls_of, verify_chain
from lgsp_common.audit_format import canonical_json, canonical_json_fast

KEY = b"test-audit-key-0123456789"
SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[3] / "contracts/platform/lgsp.audit/v1.schema.json"
    ).read_text(encoding="utf-8")
)


class Producer:
    """Records what was sent; each ack is a future the test settles (or at once)."""

    def __init__(self, *, hold: bool = False) -> None:
        self.sent: list[bytes] = []
        self.acks: list[asyncio.Future[None]] = []
        self.hold = hold
        self.fail: Exception | None = None

    async def send(self, topic: str, value: bytes | None = None, **_: Any) -> Any:
        assert value is not None
        self.sent.append(value)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            ack.set_exception(self.fail)
        elif not self.hold:
            ack.set_result(None)
        self.acks.append(ack)
        return ack

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(value) for value in self.sent]


def call(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "actor": {"kind": "source", "id": f"src-{n % 3}"},
        "action": "event.publish",
        "topic": "tthc.dossier.v1",
        "result": "success",
        "status_code": 202,
        "event_ids": [f"event-{n}"],
        **extra,
    }


async def test_calls_of_one_turn_share_one_signed_schema_valid_record() -> None:
    producer = Producer()
    trail = AuditTrail(producer, "lgsp.audit", "lgsp-gateway/gw-1", "k1", KEY, group_max=64)
    covering = await asyncio.gather(*(trail.submit(**call(n), trace_id=None) for n in range(10)))
    [record] = producer.records()
    assert all(found == record for found in covering)  # each future gets its covering record
    assert [c["event_ids"] for c in record["calls"]] == [[f"event-{n}"] for n in range(10)]
    assert len({c["audit_id"] for c in record["calls"]}) == 10
    assert all("trace_id" not in c for c in record["calls"])  # None fields are left out
    assert "actor" not in record and "event_ids" not in record
    jsonschema.validate(record, SCHEMA)
    assert verify_chain(producer.records(), {"k1": KEY}) == []
    flat = calls_of(record)
    assert [c["seq"] for c in flat] == [0] * 10
    assert {c["writer"] for c in flat} == {record["writer"]}
    assert flat[3]["actor"] == {"kind": "source", "id": "src-0"}


async def test_a_lone_call_is_a_plain_record_and_calls_of_returns_it() -> None:
    producer = Producer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY, group_max=64)
    record = await trail.record(**call(1))
    assert "calls" not in record and record["event_ids"] == ["event-1"]
    jsonschema.validate(record, SCHEMA)
    assert calls_of(record) == [record]


async def test_groups_are_bounded_and_chained_in_submission_order() -> None:
    producer = Producer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY, group_max=4)
    await asyncio.gather(*(trail.submit(**call(n)) for n in range(10)))
    records = producer.records()
    assert [len(calls_of(r)) for r in records] == [4, 4, 2]
    order = [c["event_ids"][0] for r in records for c in calls_of(r)]
    assert order == [f"event-{n}" for n in range(10)]
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert verify_chain(records, {"k1": KEY}) == []


async def test_each_caller_waits_for_the_ack_of_its_own_record() -> None:
    producer = Producer(hold=True)
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY, group_max=8)
    first = [trail.submit(**call(n)) for n in range(3)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    second = [trail.submit(**call(n)) for n in range(3, 5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(producer.acks) == 2  # two groups on their way, neither acknowledged
    producer.acks[1].set_result(None)
    await asyncio.gather(*second)
    assert not any(f.done() for f in first)
    producer.acks[0].set_result(None)
    assert [len(calls_of(r)) for r in await asyncio.gather(*first)] == [3, 3, 3]


async def test_a_refused_group_fails_every_call_it_covers() -> None:
    producer = Producer()
    producer.fail = RuntimeError("broker refused")
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY, group_max=8)
    results = await asyncio.gather(
        *(trail.submit(**call(n)) for n in range(3)), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError] * 3


async def test_close_sends_what_is_queued() -> None:
    producer = Producer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY, group_max=8)
    await trail.start()
    futures = [trail.submit(**call(n)) for n in range(2)]
    await trail.aclose()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(calls_of(producer.records()[0])) == 2


@pytest.mark.parametrize(
    "record",
    [
        {"b": [{"é": 1}], "a": "x", "z": {"y": True, "x": None}},
        {"text": 'Nguyễn\u0000\n\t"\\ \u001f \u2028 𝒜', "n": -(2**53), "list": []},
        {"big": 2**70, "keys": {"ă": 1, "a": 2, "Z": 3}},  # orjson refuses: the slow path
    ],
)
def test_the_fast_canonical_json_is_byte_for_byte_the_canonical_one(
    record: dict[str, Any],
) -> None:
    assert canonical_json_fast(record) == canonical_json(record)


def test_group_max_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        AuditTrail(Producer(), "lgsp.audit", "svc/one", "k1", KEY, group_max=0)
