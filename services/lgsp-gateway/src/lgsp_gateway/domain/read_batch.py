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
    # Decoded payloads waiting for `project_records`; no event carries data before that.
    unprojected: list[Any] = field(default_factory=list)

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


_HEADER_NAMES = {f"ce_{name}": name for name in ENVELOPE} | {"content-type": "datacontenttype"}


def _envelope(headers: Sequence[tuple[str, bytes]]) -> tuple[dict[str, Any], str | None]:
    event: dict[str, Any] = {"specversion": "1.0"}
    traceparent = None
    for name, raw in headers:
        attribute = _HEADER_NAMES.get(name)
        if attribute is not None and raw is not None:
            event[attribute] = raw.decode("utf-8", "replace")
        elif name == "traceparent" and raw is not None:
            traceparent = raw.decode("ascii", "replace")
    return event, traceparent


def add_records(
    batch: ReadBatch,
    records: Iterable[KafkaRecordLike],
    selection: FieldSelection,
    start: Mapping[int, int],
) -> None:
    """Append records (one partition's, in offset order) and advance that partition's position.

    The events get their data from `project_records`; what the audit needs (offset ranges,
    disclosed field names) is known here already, so its record can be on its way meanwhile.
    """
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
        batch.unprojected.append(data)
        if len(batch.disclosed) < len(selection.pointers):  # until every field was seen
            batch.disclosed.update(selection.disclosed(data))
        batch.records.append(event)
        if traceparent:
            batch.traceparents.append(traceparent)
        first, _, count = batch.ranges.get(record.partition, (record.offset, 0, 0))
        batch.ranges[record.partition] = (first, record.offset, count + 1)
        batch.positions[record.partition] = record.offset + 1


def project_records(batch: ReadBatch, selection: FieldSelection) -> None:
    """Give every event of the batch its data, trimmed to the selected fields."""
    for event, data in zip(batch.records, batch.unprojected, strict=True):
        event["data"] = selection.project(data)
    batch.unprojected.clear()
