"""SpanScope behaves as `start_as_current_span`: current inside, ended after, errors recorded."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lgsp_common.telemetry import SpanScope


def tracer_and_spans() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_the_span_is_current_inside_and_ended_after() -> None:
    tracer, exporter = tracer_and_spans()
    with SpanScope(tracer, "outer", kind=trace.SpanKind.SERVER, attributes={"a": 1}) as outer:
        assert trace.get_current_span() is outer
        with SpanScope(tracer, "inner") as inner:
            assert trace.get_current_span() is inner
        assert trace.get_current_span() is outer
    assert trace.get_current_span() is not outer
    inner_span, outer_span = exporter.get_finished_spans()
    assert inner_span.parent is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert outer_span.kind is trace.SpanKind.SERVER and outer_span.attributes == {"a": 1}


def test_an_exception_is_recorded_with_an_error_status_and_goes_on() -> None:
    tracer, exporter = tracer_and_spans()
    with pytest.raises(ValueError, match="boom"), SpanScope(tracer, "failing"):
        raise ValueError("boom")
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
