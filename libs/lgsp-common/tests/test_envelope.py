"""The CloudEvents envelope in Kafka binary mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider

from lgsp_common.envelope import CloudEvent, from_kafka, to_kafka, trace_carrier

EVENT = CloudEvent(
    id="e-1",
    source="/sources/so-tai-chinh",
    type="vn.gov.lgsp.finance.budget-revenue.recorded",
    time=datetime(2024, 10, 5, 1, 30, tzinfo=UTC),
    subject="R-1",
    dataschema="https://lgsp.example.gov.vn/contracts/finance.budget-revenue.v1/v1.schema.json",
    data={"record_id": "R-1", "amount_vnd": 1_250_000_000, "note": "Thu ngân sách Vũng Tàu"},
)


def test_binary_mode_puts_attributes_in_ce_headers_and_data_in_value() -> None:
    record = to_kafka(EVENT, "R-1", carrier={})
    headers = dict(record.headers)
    assert record.key == b"R-1"
    assert headers["ce_id"] == b"e-1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_time"] == b"2024-10-05T01:30:00+00:00"
    assert headers["content-type"] == b"application/json"
    assert "ce_data" not in headers
    assert "ce_datacontenttype" not in headers
    assert "Vũng Tàu".encode() in record.value


def test_round_trip_keeps_every_attribute_and_extension() -> None:
    event = EVENT.model_copy(update={"partitionkey": "R-1"})
    back = from_kafka(*_value_headers(to_kafka(event, "R-1", carrier={})))
    assert back.model_dump() == event.model_dump()


def test_trace_context_travels_in_traceparent() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("publish") as span:
        record = to_kafka(EVENT, None)
    carrier = trace_carrier(record.headers)
    assert carrier["traceparent"].split("-")[1] == f"{span.get_span_context().trace_id:032x}"
    assert record.key is None


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        from_kafka(b"{oops", [("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")])


def test_missing_required_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        from_kafka(b"{}", [("ce_id", b"1"), ("ce_type", b"t")])


def _value_headers(record: object) -> tuple[bytes, list[tuple[str, bytes]]]:
    return record.value, record.headers  # type: ignore[attr-defined]
