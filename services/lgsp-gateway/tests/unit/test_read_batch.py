"""A pull answer's records: envelope from ce_* headers, place as extensions, data minimised."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.domain.read_batch import (
    MAX_TRACEPARENTS,
    ReadBatch,
    add_records,
    answer_body,
    disclose_fields,
    render,
    render_events,
)

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


def events_of(batch: ReadBatch, selection: FieldSelection) -> list[dict[str, object]]:
    """Render the batch's answer and return its records as a client decodes them."""
    answer = orjson.loads(render(batch, selection, "the-cursor"))
    assert answer["next"] == "the-cursor"
    records: list[dict[str, object]] = answer["records"]
    return records


def test_records_become_cloudevents_with_only_the_approved_fields() -> None:
    batch = ReadBatch(positions={0: 3})
    selection = FieldSelection(["/district", "/payer/name"])
    add_records(batch, [record(0, 3, DATA), record(0, 4, DATA)], {0: 3})
    disclose_fields(batch, selection)
    # what the audit needs is known before anything is rendered
    assert batch.positions == {0: 5}
    assert batch.audit_ranges() == [
        {"partition": 0, "first_offset": 3, "last_offset": 4, "count": 2}
    ]
    assert batch.disclosed == {"/district", "/payer/name"}
    assert batch.payload_bytes == 2 * len(orjson.dumps(DATA))
    first, second = events_of(batch, selection)
    assert first["data"] == {"district": "748", "payer": {"name": "Cty A"}}
    assert first["kafkapartition"] == 0 and first["kafkaoffset"] == 3
    assert second["kafkaoffset"] == 4 and second["id"] == "e-0-4"
    assert first["id"] == "e-0-3" and first["subject"] == "748"
    assert first["specversion"] == "1.0" and first["time"] == "2024-10-01T08:00:00+07:00"
    assert first["source"] == "/sources/stc" and first["type"] == "vn.gov.lgsp.finance.revenue"
    assert first["dataschema"] == "https://lgsp.example.gov.vn/contracts/x/v1.schema.json"
    assert first["datacontenttype"] == "application/json" and "traceparent" not in first
    assert set(first) == {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "dataschema",
        "datacontenttype",
        "kafkapartition",
        "kafkaoffset",
        "data",
    }
    assert batch.traceparents == [TRACEPARENT, TRACEPARENT]


def test_partitions_add_up_and_only_fields_present_are_disclosed() -> None:
    batch = ReadBatch(positions={0: 0, 1: 7})
    selection = FieldSelection(["/district", "/payer/name", "/absent"])
    add_records(batch, [record(0, 0, {"district": "1"}), record(0, 2, DATA)], {0: 0})
    add_records(batch, [record(1, 7, DATA)], {1: 7})
    disclose_fields(batch, selection)
    assert batch.positions == {0: 3, 1: 8}
    assert [(r["partition"], r["count"]) for r in batch.audit_ranges()] == [(0, 2), (1, 1)]
    assert batch.disclosed == {"/district", "/payer/name"}  # "/absent" never disclosed
    assert [e["data"] for e in events_of(batch, selection)] == [
        {"district": "1"},
        {"district": "748", "payer": {"name": "Cty A"}},
        {"district": "748", "payer": {"name": "Cty A"}},
    ]


def test_rendering_in_slices_gives_the_same_events_in_order() -> None:
    batch = ReadBatch()
    selection = FieldSelection(["/district"])
    add_records(batch, [record(0, o, DATA) for o in range(250)], {})
    disclose_fields(batch, selection)
    sliced = [render_events(batch, selection, lo, lo + 100) for lo in range(0, 300, 100)]
    sliced.append(render_events(batch, selection, 250, 300))  # past the end: an empty chunk
    assert [len(orjson.loads(b"[" + chunk + b"]")) for chunk in sliced] == [100, 100, 50, 0]
    events = orjson.loads(b"[" + b",".join(sliced[:3]) + b"]")
    assert [e["kafkaoffset"] for e in events] == list(range(250))
    assert len(batch.traceparents) == MAX_TRACEPARENTS  # links are bounded, not one per record
    assert answer_body(sliced, "c") == render(batch, selection, "c")
    assert len(batch.payloads) == 1  # one record decoded to know the disclosed fields


def test_records_before_the_cursor_are_not_answered_twice() -> None:
    batch = ReadBatch(positions={1: 10})
    add_records(batch, [record(1, 9, DATA), record(1, 10, DATA)], {1: 10})
    disclose_fields(batch, FieldSelection([]))
    [event] = events_of(batch, FieldSelection([]))
    assert event["kafkaoffset"] == 10 and event["data"] == {}
    assert batch.audit_ranges() == [
        {"partition": 1, "first_offset": 10, "last_offset": 10, "count": 1}
    ]


def test_a_value_that_is_not_json_is_answered_without_data_and_counted() -> None:
    batch = ReadBatch()
    broken = Record(2, 0, b"{not json", [("ce_id", b"x")])
    empty = Record(2, 1, None, [("ce_id", b"y"), ("ce_type", None)])  # type: ignore[list-item]
    add_records(batch, [broken, empty], {})
    disclose_fields(batch, FieldSelection(["/a"]))
    first, second = events_of(batch, FieldSelection(["/a"]))
    assert first["data"] is None and batch.undecodable == 1
    assert first["specversion"] == "1.0"
    assert second["data"] is None and "type" not in second


def test_a_field_never_present_makes_every_value_count_for_the_audit() -> None:
    batch = ReadBatch()
    selection = FieldSelection(["/district", "/never"])
    add_records(batch, [record(0, o, DATA) for o in range(3)], {})
    disclose_fields(batch, selection)
    assert batch.disclosed == {"/district"} and len(batch.payloads) == 3
    assert [e["data"] for e in events_of(batch, selection)] == [{"district": "748"}] * 3
    assert batch.undecodable == 0
