"""Record spans: none while the tracer provider has no processor, one per record once it has."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ioc_collector.adapters.tracing import RecordSpans, tracing_on

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class FakeRecord:
    offset: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "tthc.dossier.v1"
    partition: int = 2
    timestamp: int = 0
    key: bytes | None = None
    value: bytes | None = None


RECORDS = [
    FakeRecord(7, [("ce_id", b"e-7"), ("traceparent", TRACEPARENT)]),
    FakeRecord(8, [("ce_id", b"e-8")]),
]


def test_no_span_is_made_while_tracing_is_off_then_one_per_record() -> None:
    provider = TracerProvider()
    spans = RecordSpans(provider, "ioc-collector")
    assert not tracing_on(provider) and not tracing_on(None)
    assert spans.start("tthc.dossier.v1", 2, RECORDS) == []
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # switched on at run time
    started = spans.start("tthc.dossier.v1", 2, RECORDS)
    RecordSpans.end(started, RECORDS, {8: "contract"})
    first, second = exporter.get_finished_spans()
    assert (first.name, first.kind) == ("collector process tthc.dossier.v1", SpanKind.CONSUMER)
    assert first.parent is not None and first.parent.span_id == 0x00F067AA0BA902B7
    assert first.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["messaging.message.id"] == "e-7"
    assert first.attributes["messaging.kafka.offset"] == 7
    assert first.attributes["messaging.destination.partition.id"] == "2"
    assert first.attributes["messaging.consumer.group.name"] == "ioc-collector"
    assert second.parent is None and second.status.status_code is StatusCode.ERROR
    assert second.attributes["error.type"] == "contract"
