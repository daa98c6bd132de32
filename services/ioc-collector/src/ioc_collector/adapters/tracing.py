"""Continuing each consumed event's trace: one CONSUMER span per record, when tracing is on.

The gateway writes the W3C `traceparent` of the request that accepted an event into the
record's headers; the collector's span `collector process <topic>` is its child, so a trace
shows the event from the department's request to the KPI. The spans of a batch start when
the batch is taken up and end when it has been applied (the records are applied together).
Creating a span costs far more than applying an event, so none is made while the tracer
provider has no span processor (tracing off, the default): checked once per batch, so an
exporter added at run time (as tests do) takes effect at the next batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ioc_collector.adapters.decode import Record
from lgsp_common.envelope import trace_carrier

INSTRUMENTATION = "ioc_collector"


def tracing_on(provider: TracerProvider | None) -> bool:
    """Tell whether the provider has a span processor, i.e. whether spans go anywhere."""
    # The SDK has no public accessor; its multi-processor keeps the added ones in a tuple.
    processor = getattr(provider, "_active_span_processor", None)
    return bool(getattr(processor, "_span_processors", ()))


class RecordSpans:
    """Starts and ends the spans of the records of one batch."""

    def __init__(self, provider: TracerProvider | None, group_id: str) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION) if provider is not None else None
        self._group_id = group_id

    def start(self, topic: str, partition: int, records: Sequence[Record]) -> list[Span]:
        """Start one span per record, each the child of its record's trace context."""
        if self._tracer is None or not records or not tracing_on(self._provider):
            return []
        name = f"collector process {topic}"
        return [
            self._tracer.start_span(
                name,
                context=propagate.extract(trace_carrier(record.headers)),
                kind=SpanKind.CONSUMER,
                attributes=self._attributes(topic, partition, record),
            )
            for record in records
        ]

    def _attributes(self, topic: str, partition: int, record: Record) -> dict[str, str | int]:
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.consumer.group.name": self._group_id,
            "messaging.kafka.offset": record.offset,
        }
        event_id = dict(record.headers or ()).get("ce_id")
        if isinstance(event_id, bytes):  # the CloudEvent id, as the gateway's span has it
            attributes["messaging.message.id"] = event_id.decode("utf-8", "replace")
        return attributes

    @staticmethod
    def end(spans: Sequence[Span], records: Sequence[Record], failed: Mapping[int, str]) -> None:
        """End the spans of the records; a record that failed (by offset) marks its span."""
        for span, record in zip(spans, records, strict=False):  # no spans when tracing is off
            reason = failed.get(record.offset)
            if reason is not None:
                span.set_attribute("error.type", reason)
                span.set_status(Status(StatusCode.ERROR, reason))
            span.end()
