"""A pull answer: Kafka records as structured CloudEvents, trimmed to the approved fields.

Each record keeps the envelope (`specversion`, `id`, `source`, `type`, `time`, `subject`,
`dataschema`, `datacontenttype`) from its `ce_*` headers, carries its place as the extension
attributes `kafkapartition` and `kafkaoffset` (CloudEvents extension names are lower-case
alphanumerics), and its `data` projected by the consumer's `FieldSelection`. Nothing else of the
payload leaves the gateway.

Three steps, so that the audit record can travel while the answer is rendered:
`add_records` takes each partition's records (offset ranges, positions and sizes, per
partition, not per record); `disclose_fields` names the fields the answer discloses, decoding
values only until every approved field was seen (usually the first record): that is all the
audit needs. `render_events` then decodes each remaining value once, trims it and serialises
the event at once (in slices, so the caller can let the audit record's send run in between);
`answer_body` joins them into the answer. No decoded payload outlives its event: a page leaves
almost no objects behind for the garbage collector.
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
    # The decoded values of the first records (those `disclose_fields` looked at).
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

    def decoded(self, value: bytes | None) -> Any:
        """Return a record's value decoded (None if empty; None, counted, if not JSON)."""
        if not value:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            self.undecodable += 1
            return None


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
    batch.payload_bytes += sum(len(record.value or b"") for record in records)
    batch.records.extend(records)


def disclose_fields(batch: ReadBatch, selection: FieldSelection) -> None:
    """Name the approved fields the answer discloses, decoding no more values than needed."""
    every = len(selection.pointers)
    payloads = batch.payloads
    for record in batch.records[len(payloads) :]:
        if len(batch.disclosed) >= every:
            return
        payloads.append(data := batch.decoded(record.value))
        batch.disclosed.update(selection.disclosed(data))


def batch_of(
    start: Mapping[int, int],
    fetched: Mapping[int, Sequence[KafkaRecordLike]],
    selection: FieldSelection,
) -> ReadBatch:
    """Return the batch of fetched records (each partition's from its start), fields disclosed."""
    batch = ReadBatch(positions=dict(start))
    for records in fetched.values():
        add_records(batch, records, start)
    disclose_fields(batch, selection)
    return batch


# Each envelope attribute is written as a ready JSON member (`"name":"value"`): the members of
# attributes whose values repeat from record to record (the same source, type, schema...) are
# serialised once and looked up by the header's raw bytes; the others are serialised per record.
_ATTRIBUTES = {f"ce_{name}": name for name in ENVELOPE} | {"content-type": "datacontenttype"}
_REPEATING = frozenset({"ce_specversion", "ce_source", "ce_type", "ce_dataschema", "content-type"})
_MAX_MEMBERS = 4096  # cached members per repeating attribute (a bound, never reached in practice)
_MEMBERS: dict[str, dict[bytes, bytes]] = {name: {} for name in _REPEATING}
_HEADERS: dict[str, tuple[str, bytes, dict[bytes, bytes] | None]] = {
    name: (attribute, orjson.dumps(attribute) + b":", _MEMBERS.get(name))
    for name, attribute in _ATTRIBUTES.items()
}
_SPECVERSION = b'"specversion":"1.0"'
_EVENT = b'{%b,"kafkapartition":%d,"kafkaoffset":%d,"data":%b}'


def _member(key: bytes, raw: bytes) -> bytes:
    return key + orjson.dumps(raw.decode("utf-8", "replace"))


def _envelope(record: KafkaRecordLike, traceparents: list[str]) -> bytes:
    """Return the record's envelope attributes as JSON members, comma-separated.

    As a JSON object built attribute by attribute would hold them: `specversion` first (1.0
    unless a header says otherwise), then each attribute in the order of its first header, the
    last header of a name winning.
    """
    members = {"specversion": _SPECVERSION}
    headers = _HEADERS
    for name, raw in record.headers:
        found = headers.get(name)
        if found is None:
            if name == "traceparent" and raw is not None and len(traceparents) < MAX_TRACEPARENTS:
                traceparents.append(raw.decode("ascii", "replace"))
            continue
        if raw is None:
            continue
        attribute, key, cache = found
        if cache is None:
            members[attribute] = _member(key, raw)
            continue
        member = cache.get(raw)
        if member is None:
            if len(cache) >= _MAX_MEMBERS:
                cache.clear()
            member = cache[raw] = _member(key, raw)
        members[attribute] = member
    return b",".join(members.values())


def render_events(
    batch: ReadBatch, selection: FieldSelection, lo: int = 0, hi: int | None = None
) -> list[bytes]:
    """Return records `lo` to `hi` of the batch as serialised CloudEvents, data trimmed.

    Call it once per record, in order (whole, or in consecutive slices), after
    `disclose_fields`: values it did not decode are decoded here, and their failures counted.
    Each event is written straight to bytes: envelope members (see `_envelope`), the record's
    place, then its trimmed data, as `orjson.dumps` of the whole event would write them.
    """
    dumps, project, payloads = orjson.dumps, selection.project, batch.payloads
    decoded, traceparents, records = batch.decoded, batch.traceparents, batch.records
    known = len(payloads)
    events = []
    for index in range(lo, batch.count if hi is None else min(hi, batch.count)):
        record = records[index]
        data = payloads[index] if index < known else decoded(record.value)
        events.append(
            _EVENT
            % (
                _envelope(record, traceparents),
                record.partition,
                record.offset,
                dumps(project(data)),
            )
        )
    return events


def answer_body(events: list[bytes], next_cursor: str) -> bytes:
    """Return the answer `{"records": [...], "next": ...}` as JSON bytes."""
    return b"".join(
        (b'{"records":[', b",".join(events), b'],"next":', orjson.dumps(next_cursor), b"}")
    )


def render(batch: ReadBatch, selection: FieldSelection, next_cursor: str) -> bytes:
    """Return the whole answer as JSON bytes (`render_events`, then `answer_body`)."""
    return answer_body(render_events(batch, selection), next_cursor)
