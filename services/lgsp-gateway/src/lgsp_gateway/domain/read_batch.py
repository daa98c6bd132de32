"""A pull answer: Kafka records as structured CloudEvents, trimmed to the approved fields.

Each record keeps the envelope (`specversion`, `id`, `source`, `type`, `time`, `subject`,
`dataschema`, `datacontenttype`) from its `ce_*` headers, carries its place as the extension
attributes `kafkapartition` and `kafkaoffset` (CloudEvents extension names are lower-case
alphanumerics), and its `data` projected by the consumer's `FieldSelection`. Nothing else of the
payload leaves the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from lgsp_common.minimise import FieldSelection

ENVELOPE = ("specversion", "id", "source", "type", "time", "subject", "dataschema")


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

    records: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)
    ranges: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    disclosed: set[str] = field(default_factory=set)
    payload_bytes: int = 0
    traceparents: list[str] = field(default_factory=list)
    undecodable: int = 0

    def audit_ranges(self) -> list[dict[str, int]]:
        """Return each partition's first and last offset read and how many records."""
        return [
            {"partition": p, "first_offset": first, "last_offset": last, "count": count}
            for p, (first, last, count) in sorted(self.ranges.items())
        ]


def _envelope(headers: Sequence[tuple[str, bytes]]) -> tuple[dict[str, Any], str | None]:
    event: dict[str, Any] = {}
    traceparent = None
    for name, raw in headers:
        if raw is None:
            continue
        if name.startswith("ce_") and name[3:] in ENVELOPE:
            event[name[3:]] = raw.decode("utf-8", "replace")
        elif name == "content-type":
            event["datacontenttype"] = raw.decode("utf-8", "replace")
        elif name == "traceparent":
            traceparent = raw.decode("ascii", "replace")
    event.setdefault("specversion", "1.0")
    return event, traceparent


def add_records(
    batch: ReadBatch,
    records: Iterable[KafkaRecordLike],
    selection: FieldSelection,
    start: Mapping[int, int],
) -> None:
    """Append records (one partition's, in offset order) and advance that partition's position."""
    for record in records:
        if record.offset < start.get(record.partition, 0):
            continue  # a record before the cursor (never expected after a seek): not twice
        event, traceparent = _envelope(record.headers)
        batch.payload_bytes += len(record.value or b"")
        try:
            data = orjson.loads(record.value) if record.value else None
        except orjson.JSONDecodeError:
            data, batch.undecodable = None, batch.undecodable + 1
        event["kafkapartition"] = record.partition
        event["kafkaoffset"] = record.offset
        event["data"] = selection.project(data)
        batch.disclosed.update(selection.disclosed(data))
        batch.records.append(event)
        if traceparent:
            batch.traceparents.append(traceparent)
        first, _, count = batch.ranges.get(record.partition, (record.offset, 0, 0))
        batch.ranges[record.partition] = (first, record.offset, count + 1)
        batch.positions[record.partition] = record.offset + 1
