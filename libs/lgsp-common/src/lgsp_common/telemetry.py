"""OpenTelemetry set-up, driven only by the standard OTEL_* variables; off by default.

Trace context always flows (W3C `traceparent` on every HTTP call and Kafka record), but spans are
only recorded while something exports them: with no exporter and no processor, the sampler drops
every span, which keeps span bookkeeping (about a fifth of the gateway's CPU per request when
recorded) off the hot path. Adding a processor later (tests do) turns recording on.

No span leaves a process with a personal identifier in clear: every processor attached to the
provider sees each ended span through `MaskingSpanProcessor`, which masks CCCD and CMND numbers
(`lgsp_vn.masking`) in the span's name, attributes, events (an exception's message and stack
trace) and links, whatever instrumentation set them (a query string in `url.query`, a message
id, an error text). Likewise `/metrics` (`exposition`) masks them in every label value, since
some labels come from the request (the topic of the URL path, say), and the process's propagator
(`MaskingPropagator`, installed by `setup_tracing`) masks them in the `tracestate` and `baggage`
a caller sent, which would otherwise travel on into every Kafka record's headers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceState,
)
from opentelemetry.util.types import Attributes, AttributeValue
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from lgsp_vn.masking import mask_identifiers

log = logging.getLogger(__name__)


def _masked_value(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [mask_identifiers(v) if isinstance(v, str) else v for v in value]
    return value


def _masked_attributes(attributes: Attributes) -> dict[str, AttributeValue] | None:
    """Return the attributes with identifiers masked, or None when nothing needed it."""
    if not attributes:
        return None
    masked = {mask_identifiers(k): _masked_value(v) for k, v in attributes.items()}
    return None if masked == dict(attributes) else masked


def masked_span(span: ReadableSpan) -> ReadableSpan:
    """Return the span itself when it holds no identifier, else a copy with them masked."""
    attributes = _masked_attributes(span.attributes)
    events = [(e, _masked_attributes(e.attributes)) for e in span.events]
    links = [(link, _masked_attributes(link.attributes)) for link in span.links]
    name = mask_identifiers(span.name)
    description = span.status.description
    status_text = mask_identifiers(description) if description else description
    changed = [a for _, a in events + links if a is not None]
    if attributes is None and not changed and name == span.name and status_text == description:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        events=[
            Event(mask_identifiers(e.name), a if a is not None else e.attributes, e.timestamp)
            for e, a in events
        ],
        links=[Link(link.context, a if a is not None else link.attributes) for link, a in links],
        kind=span.kind,
        status=Status(span.status.status_code, status_text),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class MaskingSpanProcessor(SpanProcessor):
    """Hands the wrapped processor every ended span with personal identifiers masked."""

    def __init__(self, delegate: SpanProcessor) -> None:
        self.delegate = delegate

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Pass the start on (nothing is exported yet)."""
        self.delegate.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Pass on the masked span."""
        self.delegate.on_end(masked_span(span))

    def shutdown(self) -> None:
        """Shut the wrapped processor down."""
        self.delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped processor."""
        return self.delegate.force_flush(timeout_millis)


class _MaskedLabels(Collector):
    """A view of a registry whose samples have identifiers masked in their label values."""

    def __init__(self, registry: Collector) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """Yield the registry's metrics, label values masked where they hold an identifier."""
        for metric in self._registry.collect():
            samples = []
            for sample in metric.samples:
                labels = {k: mask_identifiers(v) for k, v in sample.labels.items()}
                same = labels == sample.labels
                samples.append(sample if same else sample._replace(labels=labels))
            metric.samples = samples
            yield metric


def exposition(registry: Collector) -> bytes:
    """Return the Prometheus text exposition of a registry, no identifier in clear."""
    return generate_latest(_MaskedLabels(registry))


MASKED_FIELDS = ("tracestate", "baggage")  # never traceparent: its hex ids hold digit runs


class MaskingPropagator(TextMapPropagator):
    """Propagates as the wrapped propagator, masking identifiers in tracestate and baggage."""

    def __init__(self, delegate: TextMapPropagator) -> None:
        self.delegate = delegate

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        """Extract; a remote trace state holding an identifier is kept masked."""
        found = self.delegate.extract(carrier, context, getter)
        remote = trace.get_current_span(found).get_span_context()
        state = remote.trace_state
        masked = [(mask_identifiers(k), mask_identifiers(v)) for k, v in state.items()]
        if masked == list(state.items()):
            return found
        span_context = SpanContext(
            remote.trace_id, remote.span_id, remote.is_remote, remote.trace_flags,
            TraceState(masked),
        )  # fmt: skip
        return trace.set_span_in_context(NonRecordingSpan(span_context), found)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        """Inject, with identifiers masked in tracestate and baggage."""
        written: dict[str, str] = {}
        self.delegate.inject(written, context)
        for name, value in written.items():
            setter.set(carrier, name, mask_identifiers(value) if name in MASKED_FIELDS else value)

    @property
    def fields(self) -> set[str]:
        """The fields the wrapped propagator writes."""
        return self.delegate.fields


def install_masking_propagator() -> None:
    """Wrap the process's propagator (OTEL_PROPAGATORS) in the identifier mask, once."""
    current = propagate.get_global_textmap()
    if not isinstance(current, MaskingPropagator):
        propagate.set_global_textmap(MaskingPropagator(current))


class ExportingTracerProvider(TracerProvider):
    """A tracer provider that knows whether any span processor is attached."""

    exporting = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Attach a processor (behind the identifier mask); from now on spans are recorded."""
        if not isinstance(span_processor, MaskingSpanProcessor):
            span_processor = MaskingSpanProcessor(span_processor)
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
    install_masking_propagator()
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


class SpanScope:
    """`tracer.start_as_current_span(...)` for hot paths: the same span, made current while the
    block runs, ended after it, an exception recorded and the status set to ERROR; without the
    generator-based context manager of the API (a few percent of a single-event publish)."""

    __slots__ = ("_span", "_token")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        *,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Attributes = None,
        context: Context | None = None,
    ) -> None:
        self._span = tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        self._token: object = None

    def __enter__(self) -> trace.Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(exc, Exception) and self._span.is_recording():
                self._span.record_exception(exc)
                self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._span.end()
