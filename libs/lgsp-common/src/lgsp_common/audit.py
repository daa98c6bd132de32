"""The tamper-evident audit trail on `lgsp.audit`: one Ed25519-signed hash chain per process start.

The rules are those of contracts/platform/README.md: `seq` counts from 0 without gaps;
`prev_hash` is the previous record's `hash` (64 zeros for record 0); `hash` is the SHA-256 of the
record's canonical JSON without `hash` and `signature`; `signature` is the Ed25519 signature
(`EdDSA`) of the ASCII `hash`, base64url without padding. Key material: see `audit_format`.

Each `AuditTrail` opens a new chain: its id (the records' `writer` and their record key) is
`<writer>/<start time, compact UTC>-<8 random hex>`, so a restarted process never continues or
reuses an old chain, whatever its PID. The chain's record 0 carries `chain_start` (the producing
service, i.e. the `writer` given, and the start time).

Records are produced in chain order but acknowledged concurrently: the chain position is taken
and the record handed to the producer under one lock (the idempotent producer keeps that order
on the chain's partition), and the caller then waits for the broker's ack outside the lock, so
concurrent requests pipeline instead of queueing behind each other's round trip. A record the
broker finally refuses leaves a gap that a verifier reports as missing, which is the truth.

With `group_max` above 1 (the gateway and the population adapter), `submit` groups the calls that
arrive in one turn of the event loop (under load, the calls woken by one produce acknowledgement)
into ONE chain record, up to `group_max` calls: a group of one is a plain record, a larger group
is a record whose `calls` holds each call's fields (its own `audit_id`, `timestamp`, actor,
action, result, events...). One signature, one hash and one produce then cover the whole group,
and each caller's future settles when the record that covers its call is acknowledged. Readers
take a record's calls with `calls_of`.

While started (`start()`/`aclose()`, or `async with trail`), the trail emits a signed checkpoint
(`audit_checkpoints`) every `checkpoint_every` records or `checkpoint_interval_s` seconds,
whichever comes first, only when records were acknowledged since the last one, and a final one
at close. A checkpoint covers the longest prefix of the chain whose acks have all completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from lgsp_common.audit_checkpoints import make_checkpoint
from lgsp_common.audit_format import (
    GENESIS_HASH,
    SIGNATURE_ALG,
    b64url,
    canonical_json,
    canonical_json_fast,
    public_bytes,
    public_key_b64,
    record_hash,
    sign_eddsa,
    sign_hash,
    signing_key,
)
from lgsp_common.audit_verify import Finding, Problem, verify_chain
from lgsp_common.ids import new_id

__all__ = [
    "GENESIS_HASH",
    "SIGNATURE_ALG",
    "AuditTrail",
    "Finding",
    "Problem",
    "RecordSender",
    "calls_of",
    "canonical_json",
    "checkpoint_topic_for",
    "public_key_b64",
    "record_hash",
    "sign_hash",
    "verify_chain",
]

log = logging.getLogger(__name__)
CHECKPOINT_SUFFIX = ".checkpoints"
_JSON = [("content-type", b"application/json")]


CHAIN_FIELDS = ("writer", "seq", "prev_hash", "signature_alg", "key_id", "hash", "signature")


def calls_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the calls a record covers, each with its record's chain fields (`writer`, `seq`,
    ...): the record itself for a plain record, one dict per entry of a group's `calls`."""
    calls = record.get("calls")
    if not isinstance(calls, list):
        return [dict(record)]
    chain = {name: record[name] for name in CHAIN_FIELDS if name in record}
    return [{**call, **chain, "group_audit_id": record.get("audit_id")} for call in calls]


def checkpoint_topic_for(audit_topic: str) -> str:
    """Return the checkpoints topic that goes with an audit topic (lgsp.audit.checkpoints)."""
    return audit_topic + CHECKPOINT_SUFFIX


def chain_id(writer: str, started: datetime) -> str:
    """Return a new chain's id: the writer, its start time (compact UTC) and 8 random hex."""
    return f"{writer}/{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


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


class AuditTrail:
    """One chain: `record(**fields)` appends a signed record; checkpoints while started."""

    def __init__(
        self,
        producer: RecordSender,
        topic: str,
        writer: str,
        key_id: str,
        key: bytes,
        *,
        checkpoint_topic: str | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 10.0,
        checkpoint_timeout_s: float = 2.0,
        group_max: int = 1,
    ) -> None:
        if checkpoint_every < 1 or checkpoint_interval_s <= 0:
            raise ValueError("checkpoints need a positive count and interval")
        if group_max < 1:
            raise ValueError("a group holds at least one call")
        self._producer = producer
        self._topic = topic
        self._checkpoint_topic = checkpoint_topic or checkpoint_topic_for(topic)
        self._service = writer
        self._started = datetime.now(UTC)
        self._chain_id = chain_id(writer, self._started)
        self._key_id = key_id
        self._key = signing_key(key)
        self._every = checkpoint_every
        self._interval_s = checkpoint_interval_s
        self._timeout_s = checkpoint_timeout_s
        self._seq = 0
        self._head = GENESIS_HASH
        self._lock = asyncio.Lock()
        self._completed: dict[int, str] = {}  # acks done (either way) beyond the covered prefix
        self._covered = -1  # highest seq whose record and all earlier ones completed
        self._covered_head = GENESIS_HASH
        self._checkpointed = -1
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._group_max = group_max
        self._queue: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = []
        self._flush_at: asyncio.Handle | None = None
        self._groups: set[asyncio.Task[None]] = set()

    @property
    def writer(self) -> str:
        """Return the chain id, which is every record's `writer` and record key."""
        return self._chain_id

    @property
    def service(self) -> str:
        """Return the producing service named at construction (the chain id's prefix)."""
        return self._service

    @property
    def next_seq(self) -> int:
        """Return the position the next record will take."""
        return self._seq

    @property
    def public_key(self) -> str:
        """Return the signing key's raw public key, base64url (what the registry publishes)."""
        return b64url(public_bytes(self._key.public_key()))

    def submit(self, **fields: Any) -> asyncio.Future[dict[str, Any]]:
        """Queue one call's record; the future settles when the record covering it is acked.

        The calls submitted in one turn of the loop leave together as one record (see the
        module's docstring), chained in submission order. The future gets the covering record,
        or the producer's error. With `group_max` 1 every call is its own record.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        present = {name: value for name, value in fields.items() if value is not None}
        self._queue.append((present, future))
        if self._flush_at is None:
            self._flush_at = loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_at = None
        queue, self._queue = self._queue, []
        for lo in range(0, len(queue), self._group_max):
            task = asyncio.get_running_loop().create_task(
                self._send_group(queue[lo : lo + self._group_max])
            )
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    async def _send_group(
        self, group: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]]
    ) -> None:
        try:
            record = await self._append([fields for fields, _ in group])
        except BaseException as exc:
            for _, future in group:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for _, future in group:
            if not future.done():
                future.set_result(record)

    async def _append(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        """Chain one record for these calls, produce it and wait for its ack."""
        async with self._lock:
            record = self._chain(calls[0]) if len(calls) == 1 else self._chain_group(calls)
            ack = await self._producer.send(
                self._topic,
                value=canonical_json_fast(record),
                key=self._chain_id.encode(),
                headers=_JSON,
            )
            self._seq += 1
            self._head = record["hash"]
        try:
            await ack
        finally:
            self._complete(record["seq"], record["hash"])
        return record

    async def record(self, **fields: Any) -> dict[str, Any]:
        """Append one record (action, actor, result...) and wait for the broker's ack.

        Fields set to None are left out (the schema has no nulls); chain fields are assigned
        here. Returns the record once acknowledged; raises what the producer raised.
        """
        if self._group_max > 1:
            return await self.submit(**fields)
        return await self._append([{n: v for n, v in fields.items() if v is not None}])

    def _chain_group(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        entries = [{"audit_id": new_id(), "timestamp": now, "event_ids": [], **c} for c in calls]
        return self._chain({"timestamp": now, "calls": entries}, defaults=False)

    def _chain(self, fields: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "audit_id": new_id(),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            **({"event_ids": []} if defaults else {}),
            **fields,
            "writer": self._chain_id,
            "seq": self._seq,
            "prev_hash": self._head,
            "signature_alg": SIGNATURE_ALG,
            "key_id": self._key_id,
        }
        if self._seq == 0:
            started = self._started.isoformat(timespec="milliseconds")
            record["chain_start"] = {"service": self._service, "started_at": started}
        record["hash"] = record_hash(record)
        record["signature"] = sign_eddsa(record["hash"].encode("ascii"), self._key)
        return record

    def _complete(self, seq: int, digest: str) -> None:
        self._completed[seq] = digest
        while self._covered + 1 in self._completed:
            self._covered += 1
            self._covered_head = self._completed.pop(self._covered)
        if self._covered - self._checkpointed >= self._every:
            self._due.set()

    async def checkpoint(self) -> dict[str, Any] | None:
        """Emit a signed checkpoint of the acknowledged prefix now; None if nothing is new.

        Raises what the producer raised, or TimeoutError after `checkpoint_timeout_s` (the
        next attempt covers the same records again).
        """
        seq, head = self._covered, self._covered_head
        if seq <= self._checkpointed:
            return None
        checkpoint = make_checkpoint(
            self._chain_id, seq, head, datetime.now(UTC), self._key_id, self._key
        )
        async with asyncio.timeout(self._timeout_s):  # a missing topic must not hang a close
            ack = await self._producer.send(
                self._checkpoint_topic,
                value=canonical_json(checkpoint),
                key=self._chain_id.encode(),
                headers=_JSON,
            )
            await ack
        self._checkpointed = max(self._checkpointed, seq)
        return checkpoint

    async def start(self) -> None:
        """Start the background checkpoints (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"audit-checkpoints {self.writer}")

    async def aclose(self) -> None:
        """Send what is queued, stop the background checkpoints and emit the final one (errors
        are logged)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush()
        if self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.checkpoint()
        except Exception:  # the close must go on; the verifier will see the tail unanchored
            log.exception("the final audit checkpoint could not be written")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # not wait_for: it can lose a cancel
                async with asyncio.timeout(self._interval_s):
                    await self._due.wait()
            self._due.clear()
            try:
                await self.checkpoint()
            except Exception:
                log.exception("an audit checkpoint could not be written; retrying later")


def _settle(future: asyncio.Future[Any], error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
