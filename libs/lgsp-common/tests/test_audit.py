"""The audit hash chain: records chain and sign as the contract says; tampering is pinpointed."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lgsp_common.audit import (
    GENESIS_HASH,
    AuditTrail,
    Problem,
    record_hash,
    sign_hash,
    verify_chain,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts/platform/lgsp.audit/examples/valid"
EXAMPLE_KEY = b"example-audit-key-not-a-secret"
KEY = b"test-audit-key-0123456789"


class FakeProducer:
    """Records what was sent, in order; acks immediately unless told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = fail

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        assert value is not None
        assert key is not None
        self.sent.append((topic, key, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(RuntimeError("broker refused"))
        else:
            future.set_result(None)
        return future


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def test_contract_example_hash_and_signature_are_reproduced() -> None:
    record = _example("population-verify-with-purpose.json")
    assert record_hash(record) == record["hash"]
    assert sign_hash(record["hash"], EXAMPLE_KEY) == record["signature"]


async def _chain(count: int) -> tuple[FakeProducer, list[dict[str, Any]]]:
    producer = FakeProducer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY)
    records = [
        await trail.record(
            actor={"kind": "service", "id": "svc"},
            action="test.act",
            result="success",
            status_code=200,
            trace_id=None,
            n=i,
        )
        for i in range(count)
    ]
    return producer, records


async def test_trail_chains_signs_and_keys_by_writer() -> None:
    producer, records = await _chain(3)
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert records[1]["prev_hash"] == records[0]["hash"]
    assert all("trace_id" not in r for r in records)  # None fields are left out
    sent = [json.loads(value) for _, _, value in producer.sent]
    assert sent == records
    chain = records[0]["writer"]
    assert chain.startswith("svc/one/") and {r["writer"] for r in records} == {chain}
    assert {key for _, key, _ in producer.sent} == {chain.encode()}
    assert records[0]["chain_start"]["service"] == "svc/one"
    assert "chain_start" not in records[1]
    assert {r["signature_alg"] for r in records} == {"EdDSA"}
    assert verify_chain(sent, {"k1": KEY}) == []


async def test_concurrent_records_keep_chain_order() -> None:
    producer = FakeProducer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY)
    await asyncio.gather(*(trail.record(action="a.b", n=i) for i in range(50)))
    sent = [json.loads(value) for _, _, value in producer.sent]
    assert [r["seq"] for r in sent] == list(range(50))
    assert verify_chain(sent, {"k1": KEY}) == []


async def test_refused_record_raises_and_leaves_a_visible_gap() -> None:
    producer = FakeProducer()
    trail = AuditTrail(producer, "lgsp.audit", "svc/one", "k1", KEY)
    await trail.record(action="a.b")
    producer.fail = True
    with pytest.raises(RuntimeError):
        await trail.record(action="a.b")
    producer.fail = False
    await trail.record(action="a.b")
    delivered = [json.loads(v) for _, _, v in producer.sent]
    del delivered[1]  # the broker never stored it
    findings = verify_chain(delivered, {"k1": KEY})
    assert [(f.seq, f.problem) for f in findings] == [(1, Problem.MISSING)]


async def test_altered_record_is_pinpointed() -> None:
    _, records = await _chain(4)
    tampered = copy.deepcopy(records)
    tampered[2]["result"] = "denied"
    findings = verify_chain(tampered, {"k1": KEY})
    assert [(f.seq, f.problem) for f in findings] == [(2, Problem.ALTERED)]


async def test_rehashed_forgery_fails_signature_and_next_link() -> None:
    _, records = await _chain(4)
    forged = copy.deepcopy(records)
    forged[1]["result"] = "denied"
    forged[1]["hash"] = record_hash(forged[1])  # the forger cannot re-sign without the key
    findings = verify_chain(forged, {"k1": KEY})
    assert [(f.seq, f.problem) for f in findings] == [
        (1, Problem.BAD_SIGNATURE),
        (2, Problem.BROKEN_LINK),
    ]
    # Without the key only the chain link gives the forgery away.
    assert [(f.seq, f.problem) for f in verify_chain(forged)] == [(2, Problem.BROKEN_LINK)]


async def test_removed_and_reordered_records_are_pinpointed() -> None:
    _, records = await _chain(5)
    removed = [r for r in records if r["seq"] != 2]
    assert [(f.seq, f.problem) for f in verify_chain(removed, {"k1": KEY})] == [
        (2, Problem.MISSING)
    ]
    reordered = [records[0], records[2], records[1], records[3], records[4]]
    assert [(f.seq, f.problem) for f in verify_chain(reordered, {"k1": KEY})] == [
        (1, Problem.REORDERED)
    ]
    duplicated = [*records, records[3]]
    assert [(f.seq, f.problem) for f in verify_chain(duplicated)] == [(3, Problem.DUPLICATE)]


async def test_unknown_key_and_malformed_records_are_reported() -> None:
    _, records = await _chain(1)
    assert [f.problem for f in verify_chain(records, {"other": KEY})] == [Problem.UNKNOWN_KEY]
    assert [f.problem for f in verify_chain([{"seq": "x"}])] == [Problem.MALFORMED]


async def test_writers_are_checked_independently() -> None:
    _, first = await _chain(2)
    producer = FakeProducer()
    other = AuditTrail(producer, "lgsp.audit", "svc/two", "k1", KEY)
    second = [await other.record(action="a.b") for _ in range(2)]
    interleaved = [first[0], second[0], first[1], second[1]]
    assert verify_chain(interleaved, {"k1": KEY}) == []
