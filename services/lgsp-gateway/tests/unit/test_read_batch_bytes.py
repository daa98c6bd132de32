"""Events written straight to bytes are exactly what `orjson.dumps` of the event object gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.domain.read_batch import ENVELOPE, ReadBatch, add_records, disclose_fields, render

ATTRIBUTES = {f"ce_{name}": name for name in ENVELOPE} | {"content-type": "datacontenttype"}


@dataclass
class Record:
    """A consumer record as aiokafka gives it."""

    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, Any]]


def reference(record: Record, selection: FieldSelection) -> dict[str, Any]:
    """The event built as an object, attribute by attribute (the last header of a name wins)."""
    event: dict[str, Any] = {"specversion": "1.0"}
    for name, raw in record.headers:
        if name in ATTRIBUTES and raw is not None:
            event[ATTRIBUTES[name]] = raw.decode("utf-8", "replace")
    event["kafkapartition"] = record.partition
    event["kafkaoffset"] = record.offset
    try:
        data = orjson.loads(record.value) if record.value else None
    except orjson.JSONDecodeError:
        data = None
    event["data"] = selection.project(data)
    return event


HEADERS = [
    [("ce_id", b"a"), ("ce_source", b"/s"), ("ce_type", b"t"), ("content-type", b"text/json")],
    [("ce_specversion", b"1.0"), ("ce_id", b"b"), ("ce_time", b"2024-10-01T08:00:00+07:00")],
    [("ce_type", b"first"), ("ce_id", b"c"), ("ce_type", b"second")],  # a repeated header
    [("ce_specversion", b"2.0"), ("ce_id", b"d")],  # specversion kept first, value of the header
    [("ce_id", b"e"), ("ce_subject", 'Qu\u1eadn "1"\\ \n'.encode()), ("ce_source", b"\xff\xfe")],
    [("ce_id", b"f"), ("ce_type", None), ("x-other", b"1"), ("traceparent", b"00-ab-cd-01")],
    [],
]
VALUES = [
    orjson.dumps({"a": 1, "b": {"c": "Hà Nội", "d": [1, 2]}, "e": None}),
    b"{not json",
    None,
    orjson.dumps([1, 2]),
]


@pytest.mark.parametrize("pointers", [[], ["/a"], ["/b/c", "/e"], ["/b"]])
def test_every_event_is_byte_for_byte_its_object(pointers: list[str]) -> None:
    selection = FieldSelection(pointers)
    records = [
        Record(1, offset, VALUES[offset % len(VALUES)], HEADERS[offset % len(HEADERS)])
        for offset in range(3 * len(HEADERS) * len(VALUES))
    ]
    batch = ReadBatch()
    add_records(batch, records, {})  # type: ignore[arg-type]
    disclose_fields(batch, selection)
    expected = orjson.dumps({"records": [reference(r, selection) for r in records], "next": "c"})
    assert render(batch, selection, "c") == expected
