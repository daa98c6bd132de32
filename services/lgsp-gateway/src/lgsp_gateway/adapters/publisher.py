"""Produce accepted events onto Kafka and wait for the broker's acknowledgement."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import trace

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.kafka import send_record


class BrokerUnavailableError(Exception):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""


@dataclass(frozen=True)
class Placement:
    """Where the broker stored an event."""

    partition: int
    offset: int


class EventPublisher:
    """Wraps the idempotent producer; an ack from here means the event is replicated."""

    def __init__(self, producer: AIOKafkaProducer, tracer: trace.Tracer, timeout_s: float) -> None:
        self._producer = producer
        self._tracer = tracer
        self._timeout_s = timeout_s

    async def publish(self, topic: str, event: CloudEvent, key: str | None) -> Placement:
        """Produce one event; raise BrokerUnavailableError when the ack does not come."""
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.message.id": event.id,
            },
        ):
            record = to_kafka(event, key)
            try:
                metadata = await asyncio.wait_for(
                    send_record(self._producer, topic, record), self._timeout_s
                )
            except (TimeoutError, KafkaError) as exc:
                raise BrokerUnavailableError(type(exc).__name__) from exc
        return Placement(partition=metadata.partition, offset=metadata.offset)
