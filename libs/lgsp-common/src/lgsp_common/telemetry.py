"""OpenTelemetry set-up, driven only by the standard OTEL_* variables; off by default.

Trace context always flows (W3C `traceparent` on every HTTP call and Kafka record), but spans are
only recorded while something exports them: with no exporter and no processor, the sampler drops
every span, which keeps span bookkeeping (about a fifth of the gateway's CPU per request when
recorded) off the hot path. Adding a processor later (tests do) turns recording on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)


class ExportingTracerProvider(TracerProvider):
    """A tracer provider that knows whether any span processor is attached."""

    exporting = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Attach a processor; from now on spans are recorded."""
        super().add_span_processor(span_processor)
        self.exporting = True


class RecordWhenExported(Sampler):
    """Delegate to the configured sampler while spans are exported; drop them otherwise."""

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate
        self.provider: ExportingTracerProvider | None = None

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """Drop when nothing exports, else ask the delegate."""
        if self.provider is None or not self.provider.exporting:
            return SamplingResult(Decision.DROP, None, trace_state)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """Describe the sampler."""
        return f"RecordWhenExported({self._delegate.get_description()})"


def _exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        return OTLPSpanExporter()
    if name not in ("", "none"):
        log.warning("unknown OTEL_TRACES_EXPORTER %r; tracing stays off", name)
    return None


def _ratio() -> Sampler:
    raw = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = min(max(float(raw), 0.0), 1.0)
    except ValueError:
        ratio = 1.0
    return ParentBased(TraceIdRatioBased(ratio))


def setup_tracing(service_name: str, processor: SpanProcessor | None = None) -> TracerProvider:
    """Build a tracer provider from OTEL_* variables (or the given processor).

    `OTEL_TRACES_EXPORTER` = `otlp` | `console` | `none` (default); `OTEL_TRACES_SAMPLER_ARG`
    is the share of new traces recorded (parent-based); `OTEL_SERVICE_NAME` overrides the name.
    """
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    sampler = RecordWhenExported(_ratio())
    provider = ExportingTracerProvider(
        resource=Resource.create({SERVICE_NAME: name}), sampler=sampler
    )
    sampler.provider = provider
    exporter = _exporter(os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower())
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if processor is not None:
        provider.add_span_processor(processor)
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)
    return provider
