"""Spans are recorded only while exported; trace context flows either way."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgsp_common.envelope import CloudEvent, to_kafka, trace_carrier
from lgsp_common.telemetry import setup_tracing


def test_without_exporter_spans_are_dropped_but_traceparent_still_flows() -> None:
    provider = setup_tracing("test-off")
    with provider.get_tracer("t").start_as_current_span("publish") as span:
        assert not span.is_recording()
        record = to_kafka(CloudEvent(source="/s", type="t"), None)
    traceparent = trace_carrier(record.headers)["traceparent"]
    assert traceparent.split("-")[1] == f"{span.get_span_context().trace_id:032x}"
    assert int(traceparent[-2:], 16) & 1 == 0  # not sampled: downstream does not record either


def test_adding_a_processor_turns_recording_on() -> None:
    provider = setup_tracing("test-on")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"parent", "child"}
    assert spans["child"].parent is not None
    assert spans["child"].parent.span_id == spans["parent"].context.span_id
