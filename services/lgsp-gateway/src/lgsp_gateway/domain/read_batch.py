"""A pull answer: Kafka records as structured CloudEvents, trimmed to the approved fields.

Each record keeps the envelope (`specversion`, `id`, `source`, `type`, `time`, `subject`,
`dataschema`, `datacontenttype`) from its `ce_*` headers, carries its place as the extension
attributes `kafkapartition` and `kafkaoffset` (CloudEvents extension names are lower-case
alphanumerics), and its `data` projected by the consumer's `FieldSelection`. Nothing else of the
payload leaves the gateway.

Three steps, so that the audit record can travel while the answer is rendered:
`add_records` takes each partition's records (offset ranges and positions, per partition, not
per record); `decode_payloads` decodes every value once and names the disclosed fields (all the
audit needs); `render_events` builds the events (in slices, so the caller can let the audit
record's send run in between) and `answer_body` serialises the whole answer in one go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from lgsp_common.minimise import FieldSelection

ENVELOPE = ("specversion", "id", "source", "type", "time", "subject", "dataschema")
MAX_TRACEPARENTS = 32  # the read's span links to at most this many producers


class KafkaRecordLike(Protocol):
    """The parts of an aiokafka ConsumerRecord a pull answer uses."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass
class ReadBatch:
    """Records of one answer, the positions after them, and what the audit needs."""

    records: list[KafkaRecordLike] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)
    ranges: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    disclosed: set[str] = field(default_factory=set)
    payload_bytes: int = 0
    traceparents: list[str] = field(default_factory=list)
    undecodable: int = 0
    # Each record's decoded value (`decode_payloads`); only `render` trims it for the answer.
    payloads: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Return how many records the answer holds."""
        return len(self.records)

    def audit_ranges(self) -> list[dict[str, int]]:
        """Return each partition's first and last offset read and how many records."""
        return [
            {"partition": p, "first_offset": first, "last_offset": last, "count": count}
            for p, (first, last, count) in sorted(self.ranges.items())
        ]


def add_records(
    batch: ReadBatch, records: Sequence[KafkaRecordLike], start: Mapping[int, int]
) -> None:
    """Append one partition's records (in offset order) and advance that partition's position."""
    if not records:
        return
    partition = records[0].partition
    wanted = start.get(partition, 0)
    if records[0].offset < wanted:  # a record before the cursor (never expected after a seek)
        records = [record for record in records if record.offset >= wanted]
        if not records:
            return
    first, last = records[0].offset, records[-1].offset
    first, _, count = batch.ranges.get(partition, (first, last, 0))
    batch.ranges[partition] = (first, last, count + len(records))
    batch.positions[partition] = last + 1
    batch.records.extend(records)


def decode_payloads(batch: ReadBatch, selection: FieldSelection) -> None:
    """Decode every record's value once, and name the fields the answer discloses."""
    loads, payloads, size = orjson.loads, batch.payloads, 0
    for record in batch.records[len(payloads) :]:
        value = record.value
        if not value:
            payloads.append(None)
            continue
        size += len(value)
        try:
            payloads.append(loads(value))
        except orjson.JSONDecodeError:
            payloads.append(None)
            batch.undecodable += 1
    batch.payload_bytes += size
    every = len(selection.pointers)
    for data in payloads:  # usually the first record already shows every field
        if len(batch.disclosed) >= every:
            break
        batch.disclosed.update(selection.disclosed(data))


_ATTRIBUTES = {f"ce_{name}": name for name in ENVELOPE} | {"content-type": "datacontenttype"}
# Attributes whose values repeat from record to record: decoded once, then looked up.
_REPEATING = frozenset({"ce_specversion", "ce_source", "ce_type", "ce_dataschema", "content-type"})
_TEXTS: dict[bytes, str] = {}
_MAX_TEXTS = 4096


def _text(raw: bytes) -> str:
    found = _TEXTS.get(raw)
    if found is None:
        if len(_TEXTS) >= _MAX_TEXTS:
            _TEXTS.clear()
        found = _TEXTS[raw] = raw.decode("utf-8", "replace")
    return found


def render_events(
    batch: ReadBatch, selection: FieldSelection, lo: int = 0, hi: int | None = None
) -> list[dict[str, Any]]:
    """Return records `lo` to `hi` of the batch as CloudEvents, their data trimmed."""
    if len(batch.payloads) != len(batch.records):
        raise ValueError("decode_payloads must run before render_events")
    project, attributes, repeating = selection.project, _ATTRIBUTES, _REPEATING
    traceparents = batch.traceparents
    events = []
    for record, data in zip(batch.records[lo:hi], batch.payloads[lo:hi], strict=True):
        event: dict[str, Any] = {"specversion": "1.0"}
        for name, raw in record.headers:
            if raw is None:
                continue
            attribute = attributes.get(name)
            if attribute is not None:
                event[attribute] = (
                    _text(raw) if name in repeating else raw.decode("utf-8", "replace")
                )
            elif name == "traceparent" and len(traceparents) < MAX_TRACEPARENTS:
                traceparents.append(raw.decode("ascii", "replace"))
        event["kafkapartition"] = record.partition
        event["kafkaoffset"] = record.offset
        event["data"] = project(data)
        events.append(event)
    return events


def answer_body(events: list[dict[str, Any]], next_cursor: str) -> bytes:
    """Return the answer `{"records": [...], "next": ...}` as JSON bytes."""
    return orjson.dumps({"records": events, "next": next_cursor})


def render(batch: ReadBatch, selection: FieldSelection, next_cursor: str) -> bytes:
    """Return the whole answer as JSON bytes (`render_events`, then `answer_body`)."""
    return answer_body(render_events(batch, selection), next_cursor)
