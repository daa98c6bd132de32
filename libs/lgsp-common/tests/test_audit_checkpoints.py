"""Ed25519 keys and signed checkpoints: key material forms, chain ids, the checkpoint schedule."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator

from lgsp_common.audit import AuditTrail
from lgsp_common.audit_checkpoints import checkpoint_problem
from lgsp_common.audit_format import (
    b64url,
    key_ring,
    load_public_key,
    public_key_b64,
    signing_key,
    verify_eddsa,
)
from lgsp_common.audit_memory import MemorySender, write_chain

KEY = b"test-audit-key-0123456789"
PLATFORM = Path(__file__).resolve().parents[3] / "contracts/platform/lgsp.audit"


def _schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((PLATFORM / name).read_text(encoding="utf-8")))


def test_a_secret_derives_one_key_pair_deterministically() -> None:
    assert public_key_b64(KEY) == public_key_b64(KEY)
    assert public_key_b64(KEY) != public_key_b64(KEY + b"x")
    assert len(load_public_key(public_key_b64(KEY)).public_bytes_raw()) == 32


def test_pem_and_raw_seed_keys_are_read() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = b"ed25519:" + b64url(private.private_bytes_raw()).encode()
    expected = b64url(private.public_key().public_bytes_raw())
    assert public_key_b64(pem) == expected
    assert public_key_b64(raw) == expected
    with pytest.raises(ValueError, match="32-byte seed"):
        signing_key(b"ed25519:c2hvcnQ")
    with pytest.raises(ValueError, match="must not be empty"):
        signing_key(b"")


async def test_each_trail_opens_its_own_chain_naming_service_and_start() -> None:
    first = AuditTrail(MemorySender(), "lgsp.audit", "lgsp-gateway/gw-1", "k1", KEY)
    second = AuditTrail(MemorySender(), "lgsp.audit", "lgsp-gateway/gw-1", "k1", KEY)
    assert first.writer != second.writer  # a restart never reuses a chain, PID 1 or not
    assert first.writer.startswith("lgsp-gateway/gw-1/")
    record = await first.record(actor={"kind": "service", "id": "x"}, action="a.b")
    assert record["chain_start"]["service"] == "lgsp-gateway/gw-1"
    assert record["writer"] == first.writer and first.service == "lgsp-gateway/gw-1"
    assert first.public_key == public_key_b64(KEY)
    digest = record["hash"].encode()
    assert verify_eddsa(digest, record["signature"], load_public_key(first.public_key))


async def test_records_and_checkpoints_follow_their_schemas() -> None:
    records, checkpoints = await write_chain(3, KEY, checkpoint_every=2)
    audit, checkpoint = _schema("v1.schema.json"), _schema("checkpoint/v1.schema.json")
    for record in records:
        assert list(audit.iter_errors(record)) == []
    assert [c["seq"] for c in checkpoints] == [1, 2]
    for found in checkpoints:
        assert list(checkpoint.iter_errors(found)) == []


async def test_a_checkpoint_is_signed_and_names_the_acknowledged_head() -> None:
    records, [checkpoint] = await write_chain(5, KEY, checkpoint_every=100)
    assert (checkpoint["chain"], checkpoint["seq"]) == (records[0]["writer"], 4)
    assert checkpoint["head_hash"] == records[4]["hash"]
    ring = key_ring({"k1": load_public_key(public_key_b64(KEY))})
    assert checkpoint_problem(checkpoint, ring) is None
    forged = dict(checkpoint, seq=9)
    assert checkpoint_problem(forged, ring) == "signature does not verify"
    assert "not published" in str(checkpoint_problem(checkpoint, key_ring({"k2": KEY})))


async def test_nothing_new_means_no_checkpoint() -> None:
    sender = MemorySender()
    trail = AuditTrail(sender, "lgsp.audit", "svc/one", "k1", KEY)
    assert await trail.checkpoint() is None
    await trail.record(action="a.b")
    assert (await trail.checkpoint() or {})["seq"] == 0
    assert await trail.checkpoint() is None


async def test_started_trail_checkpoints_by_count_and_at_close() -> None:
    sender = MemorySender()
    trail = AuditTrail(
        sender, "lgsp.audit", "svc/one", "k1", KEY, checkpoint_every=3, checkpoint_interval_s=60
    )
    async with trail:
        for _ in range(3):
            await trail.record(action="a.b")
        await sender.wait_for("lgsp.audit.checkpoints")
        await trail.record(action="a.b")
    assert [c["seq"] for c in sender.on("lgsp.audit.checkpoints")] == [2, 3]  # count, close


async def test_started_trail_checkpoints_on_its_interval() -> None:
    sender = MemorySender()
    trail = AuditTrail(sender, "lgsp.audit", "svc/one", "k1", KEY, checkpoint_interval_s=0.05)
    await trail.start()
    try:
        await trail.record(action="a.b")
        await sender.wait_for("lgsp.audit.checkpoints")
    finally:
        await trail.aclose()
    assert [c["seq"] for c in sender.on("lgsp.audit.checkpoints")] == [0]


class _Refusing(MemorySender):
    async def send(self, topic: str, *args: object, **kwargs: object) -> asyncio.Future[None]:
        if topic.endswith(".checkpoints"):
            raise RuntimeError("no such topic")
        return await super().send(topic, *args, **kwargs)  # type: ignore[arg-type]


async def test_a_failed_checkpoint_does_not_fail_records_or_the_close() -> None:
    trail = AuditTrail(_Refusing(), "lgsp.audit", "svc/one", "k1", KEY, checkpoint_interval_s=60)
    async with trail:
        record = await trail.record(action="a.b")
        with pytest.raises(RuntimeError):
            await trail.checkpoint()
    assert record["seq"] == 0  # and the close above logged, not raised
