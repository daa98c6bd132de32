"""What a pull read leaves in metrics and traces.

Per consumer and topic: records read, payload bytes read and the lag behind the topic's end as
this replica's tail knows it (no extra broker call). The read's span continues the producer's
trace when the answer carries one traced record (the common case of a long poll woken by a new
event) and links to the producers' spans otherwise (at most `MAX_LINKS`).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from lgsp_gateway.domain.read_batch import ReadBatch
from lgsp_gateway.metrics import GatewayMetrics

MAX_LINKS = 32
_PROPAGATOR = TraceContextTextMapPropagator()


class ReadTracing:
    """Counts reads per consumer and records the read's span."""

    def __init__(self, metrics: GatewayMetrics, tracer: trace.Tracer) -> None:
        self._metrics = metrics
        self._tracer = tracer

    @staticmethod
    def trace_id() -> str | None:
        """Return the current request's trace id, if it is traced."""
        context = trace.get_current_span().get_span_context()
        return f"{context.trace_id:032x}" if context.is_valid else None

    def read(self, consumer: str, topic: str, batch: ReadBatch, lag: int) -> None:
        """Count one answered read and record its span."""
        self._metrics.records_read.labels(consumer, topic).inc(batch.count)
        self._metrics.read_bytes.labels(consumer, topic).inc(batch.payload_bytes)
        self._metrics.read_lag.labels(consumer, topic).set(lag)
        if batch.undecodable:  # answered with data null; counted, never dropped silently
            self._metrics.failures.labels("read_undecodable").inc(batch.undecodable)
        contexts = [
            trace.get_current_span(_PROPAGATOR.extract({"traceparent": tp})).get_span_context()
            for tp in batch.traceparents[:MAX_LINKS]
        ]
        valid = [c for c in contexts if c.is_valid]
        parent = None
        links: list[Link] = []
        if batch.count == 1 and len(valid) == 1:
            parent = trace.set_span_in_context(trace.NonRecordingSpan(valid[0]))
        else:
            links = [Link(c) for c in valid]
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": batch.count,
            "lgsp.consumer": consumer,
        }
        with self._tracer.start_as_current_span(
            f"{topic} receive",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes=attributes,
        ):
            pass
