"""OpenTelemetry set-up, driven only by the standard OTEL_* variables; off by default."""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)


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


def setup_tracing(service_name: str, processor: SpanProcessor | None = None) -> TracerProvider:
    """Build a tracer provider from OTEL_* variables (or the given processor) and install it.

    `OTEL_TRACES_EXPORTER` = `otlp` | `console` | `none` (default). `OTEL_SERVICE_NAME` overrides
    the name. A provider is always returned so spans and trace context flow through the code
    even when nothing is exported.
    """
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporter = _exporter(os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower())
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if processor is not None:
        provider.add_span_processor(processor)
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)
    return provider
