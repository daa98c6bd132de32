"""No exported span carries a CCCD in clear, whoever set the attribute."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter

from lgsp_common.telemetry import (
    MaskingPropagator,
    MaskingSpanProcessor,
    exposition,
    install_masking_propagator,
    setup_tracing,
)

CCCD = "079203004567"


def test_attributes_events_links_status_and_name_are_masked() -> None:
    provider = setup_tracing("test-mask")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("plain") as plain:
        plain.set_attribute("url.path", "/v1/topics/tthc.dossier.v1/events")
    parent = plain.get_span_context()
    try:
        with tracer.start_as_current_span(
            f"lookup {CCCD}", links=[Link(parent, {"why": CCCD})]
        ) as span:
            span.set_attribute("url.query", f"cccd={CCCD}")
            span.set_attribute("ids", [CCCD, "x"])
            span.set_attribute("count", 2)
            span.set_status(Status(StatusCode.ERROR, f"no citizen {CCCD}"))
            raise ValueError(f"citizen {CCCD} not found")
    except ValueError:
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    masked = spans["lookup 079*******67"]
    assert masked.attributes is not None
    assert masked.attributes["url.query"] == "cccd=079*******67"
    assert list(masked.attributes["ids"]) == ["079*******67", "x"]  # type: ignore[arg-type]
    assert masked.attributes["count"] == 2
    assert masked.status.description == "ValueError: citizen 079*******67 not found"
    assert masked.context == span.get_span_context()
    [event] = masked.events
    assert event.attributes is not None
    assert CCCD not in str(dict(event.attributes)) and "079*******67" in str(event.attributes)
    assert masked.links[0].attributes == {"why": "079*******67"}
    assert spans["plain"].attributes == {"url.path": "/v1/topics/tthc.dossier.v1/events"}


def test_a_processor_is_wrapped_once() -> None:
    provider = setup_tracing("test-wrap")
    inner = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(MaskingSpanProcessor(inner))
    active = provider._active_span_processor._span_processors
    assert [type(p) for p in active] == [MaskingSpanProcessor]
    assert active[0].delegate is inner  # type: ignore[attr-defined]


def test_metrics_mask_identifiers_in_label_values_only() -> None:
    registry = CollectorRegistry()
    rejected = Counter("rejected", "r", ["topic"], registry=registry)
    rejected.labels(CCCD).inc(271234567)  # a value with 9 digits is a value, not a CMND
    rejected.labels("tthc.dossier.v1").inc()
    text = exposition(registry).decode()
    assert CCCD not in text
    assert 'rejected_total{topic="079*******67"} 2.71234567e+08' in text
    assert 'rejected_total{topic="tthc.dossier.v1"} 1.0' in text


def test_tracestate_and_baggage_from_a_caller_travel_on_masked() -> None:
    setup_tracing("test-propagate")
    assert isinstance(propagate.get_global_textmap(), MaskingPropagator)
    incoming = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": f"v={CCCD},w=ok",
        "baggage": f"cccd={CCCD}",
    }
    context = propagate.extract(incoming)
    state = trace.get_current_span(context).get_span_context().trace_state
    assert dict(state) == {"v": "079*******67", "w": "ok"}
    outgoing: dict[str, str] = {}
    propagate.inject(outgoing, context)
    assert CCCD not in str(outgoing)
    assert outgoing["traceparent"] == incoming["traceparent"]  # never rewritten
    assert outgoing["baggage"] == "cccd=079*******67"
    install_masking_propagator()
    assert not isinstance(propagate.get_global_textmap().delegate, MaskingPropagator)  # type: ignore[attr-defined]
