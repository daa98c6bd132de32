"""A pull answer's records: envelope from ce_* headers, place as extensions, data minimised."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.domain.read_batch import ReadBatch, add_records, project_records

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Record:
    """A consumer record as aiokafka gives it."""

    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def record(partition: int, offset: int, data: object) -> Record:
    """Return a binary-mode record as the gateway writes them."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"e-{partition}-{offset}".encode()),
        ("ce_source", b"/sources/stc"),
        ("ce_type", b"vn.gov.lgsp.finance.revenue"),
        ("ce_time", b"2024-10-01T08:00:00+07:00"),
        ("ce_subject", b"748"),
        ("ce_dataschema", b"https://lgsp.example.gov.vn/contracts/x/v1.schema.json"),
        ("content-type", b"application/json"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    return Record(partition, offset, orjson.dumps(data), headers)


DATA = {"district": "748", "amount_vnd": 5, "payer": {"tax_id": "0101", "name": "Cty A"}}


def test_records_become_cloudevents_with_only_the_approved_fields() -> None:
    batch = ReadBatch(positions={0: 3})
    selection = FieldSelection(["/district", "/payer/name"])
    add_records(batch, [record(0, 3, DATA), record(0, 4, DATA)], selection, {0: 3})
    assert all("data" not in event for event in batch.records)  # nothing before the trim
    project_records(batch, selection)
    first = batch.records[0]
    assert first["data"] == {"district": "748", "payer": {"name": "Cty A"}}
    assert first["kafkapartition"] == 0 and first["kafkaoffset"] == 3
    assert first["id"] == "e-0-3" and first["subject"] == "748"
    assert first["datacontenttype"] == "application/json" and "traceparent" not in first
    assert batch.positions == {0: 5}
    assert batch.audit_ranges() == [
        {"partition": 0, "first_offset": 3, "last_offset": 4, "count": 2}
    ]
    assert batch.disclosed == {"/district", "/payer/name"}
    assert batch.traceparents == [TRACEPARENT, TRACEPARENT]


def test_records_before_the_cursor_are_not_answered_twice() -> None:
    batch = ReadBatch(positions={1: 10})
    add_records(batch, [record(1, 9, DATA), record(1, 10, DATA)], FieldSelection([]), {1: 10})
    project_records(batch, FieldSelection([]))
    assert [r["kafkaoffset"] for r in batch.records] == [10]
    assert batch.records[0]["data"] == {}


def test_a_value_that_is_not_json_is_answered_without_data_and_counted() -> None:
    batch = ReadBatch()
    broken = Record(2, 0, b"{not json", [("ce_id", b"x")])
    add_records(batch, [broken], FieldSelection(["/a"]), {})
    project_records(batch, FieldSelection(["/a"]))
    assert batch.records[0]["data"] is None and batch.undecodable == 1
    assert batch.records[0]["specversion"] == "1.0"
