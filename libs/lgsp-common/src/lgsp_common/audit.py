"""The tamper-evident audit trail on `lgsp.audit`: one hash chain per writer, HMAC-signed.

The rules are those of contracts/platform/README.md: `seq` counts from 0 without gaps;
`prev_hash` is the previous record's `hash` (64 zeros for record 0); `hash` is the SHA-256 of the
record's canonical JSON without `hash` and `signature`; `signature` is HMAC-SHA256 of the ASCII
`hash`, base64url without padding. `AuditTrail` writes such a chain; `verify_chain` replays one
and pinpoints every record that was altered, removed or moved.

Records are produced in chain order but acknowledged concurrently: the chain position is taken
and the record handed to the producer under one lock (the idempotent producer keeps that order
on the writer's partition), and the caller then waits for the broker's ack outside the lock, so
concurrent requests pipeline instead of queueing behind each other's round trip. A record the
broker finally refuses leaves a gap that a verifier reports as missing, which is the truth.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from lgsp_common.ids import new_id

GENESIS_HASH = "0" * 64
SIGNATURE_ALG = "HS256"
_UNSIGNED = ("hash", "signature")


class RecordSender(Protocol):
    """The part of an aiokafka producer the trail uses: enqueue, get the ack's future."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Return the canonical JSON the chain hashes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """Return the lower-case hex SHA-256 of a record without its hash and signature."""
    unsigned = {k: v for k, v in record.items() if k not in _UNSIGNED}
    return hashlib.sha256(canonical_json(unsigned)).hexdigest()


def sign_hash(digest: str, key: bytes) -> str:
    """Return the HS256 signature of a hash: HMAC-SHA256 of its ASCII, base64url unpadded."""
    mac = hmac.new(key, digest.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


class AuditTrail:
    """One writer's hash chain: `record(**fields)` appends a signed record to the audit topic."""

    def __init__(
        self, producer: RecordSender, topic: str, writer: str, key_id: str, key: bytes
    ) -> None:
        if not key:
            raise ValueError("the audit signing key must not be empty")
        self._producer = producer
        self._topic = topic
        self._writer = writer
        self._key_id = key_id
        self._key = key
        self._seq = 0
        self._head = GENESIS_HASH
        self._lock = asyncio.Lock()

    @property
    def writer(self) -> str:
        """Return the writer id, which is also the record key and the chain's name."""
        return self._writer

    @property
    def next_seq(self) -> int:
        """Return the position the next record will take."""
        return self._seq

    async def record(self, **fields: Any) -> dict[str, Any]:
        """Append one record (action, actor, result...) and wait for the broker's ack.

        Fields set to None are left out (the schema has no nulls); chain fields are assigned here.
        """
        present = {name: value for name, value in fields.items() if value is not None}
        async with self._lock:
            record = self._chain(present)
            ack = await self._producer.send(
                self._topic,
                value=canonical_json(record),
                key=self._writer.encode(),
                headers=[("content-type", b"application/json")],
            )
            self._seq += 1
            self._head = record["hash"]
        await ack
        return record

    def _chain(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "audit_id": new_id(),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event_ids": [],
            **fields,
            "writer": self._writer,
            "seq": self._seq,
            "prev_hash": self._head,
            "signature_alg": SIGNATURE_ALG,
            "key_id": self._key_id,
        }
        record["hash"] = record_hash(record)
        record["signature"] = sign_hash(record["hash"], self._key)
        return record


class Problem(StrEnum):
    """What a verifier found wrong with one chain position."""

    ALTERED = "altered"  # content no longer matches its hash
    BAD_SIGNATURE = "bad_signature"  # hash not signed by the named key
    UNKNOWN_KEY = "unknown_key"  # signed by a key the verifier does not hold
    BROKEN_LINK = "broken_link"  # prev_hash differs from the previous record's hash
    MISSING = "missing"  # a seq never seen: removed or never written
    REORDERED = "reordered"  # appears after a record with a higher seq
    DUPLICATE = "duplicate"  # the same seq appears more than once
    MALFORMED = "malformed"  # no writer or no integer seq


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one position of one writer's chain."""

    writer: str
    seq: int | None
    problem: Problem
    detail: str


def verify_chain(
    records: Iterable[Mapping[str, Any]], keys: Mapping[str, bytes] | None = None
) -> list[Finding]:
    """Replay records in offset order, per writer; return every problem found (empty: intact).

    With `keys` (key_id -> secret), signatures are checked too; without, only the hashes.
    """
    chains: dict[str, list[Mapping[str, Any]]] = {}
    findings: list[Finding] = []
    for record in records:
        writer, seq = record.get("writer"), record.get("seq")
        if not isinstance(writer, str) or not isinstance(seq, int) or isinstance(seq, bool):
            findings.append(Finding(str(writer), None, Problem.MALFORMED, "no writer or seq"))
            continue
        chains.setdefault(writer, []).append(record)
    for writer, chain in chains.items():
        findings.extend(_verify_writer(writer, chain, keys))
    return findings


def _verify_writer(
    writer: str, chain: list[Mapping[str, Any]], keys: Mapping[str, bytes] | None
) -> list[Finding]:
    findings: list[Finding] = []
    by_seq: dict[int, Mapping[str, Any]] = {}
    highest = -1
    for record in chain:
        seq: int = record["seq"]
        findings.extend(_verify_record(writer, record, keys))
        if seq in by_seq:
            findings.append(Finding(writer, seq, Problem.DUPLICATE, "seq seen before"))
            continue
        if seq < highest:
            findings.append(Finding(writer, seq, Problem.REORDERED, f"comes after seq {highest}"))
        by_seq[seq] = record
        highest = max(highest, seq)
    for seq in range(highest + 1):
        if seq not in by_seq:
            findings.append(Finding(writer, seq, Problem.MISSING, "no record at this seq"))
    findings.extend(_verify_links(writer, by_seq))
    return sorted(findings, key=lambda f: (f.seq if f.seq is not None else -1, f.problem))


def _verify_record(
    writer: str, record: Mapping[str, Any], keys: Mapping[str, bytes] | None
) -> list[Finding]:
    seq: int = record["seq"]
    found: list[Finding] = []
    if record.get("hash") != record_hash(record):
        found.append(Finding(writer, seq, Problem.ALTERED, "content does not match its hash"))
    if keys is None:
        return found
    key = keys.get(str(record.get("key_id", "")))
    if key is None:
        found.append(Finding(writer, seq, Problem.UNKNOWN_KEY, "signing key not available"))
    elif not hmac.compare_digest(
        str(record.get("signature", "")), sign_hash(str(record.get("hash", "")), key)
    ):
        found.append(Finding(writer, seq, Problem.BAD_SIGNATURE, "signature does not verify"))
    return found


def _verify_links(writer: str, by_seq: Mapping[int, Mapping[str, Any]]) -> list[Finding]:
    found: list[Finding] = []
    for seq, record in by_seq.items():
        previous = by_seq.get(seq - 1)
        if seq == 0:
            expected: str | None = GENESIS_HASH
        else:
            expected = None if previous is None else str(previous.get("hash"))
        if expected is not None and record.get("prev_hash") != expected:
            found.append(
                Finding(writer, seq, Problem.BROKEN_LINK, "prev_hash is not the previous hash")
            )
    return found
