"""Produce accepted events onto Kafka and return only once the broker has acknowledged them.

The producer is idempotent with acks=all, so an ack means the event is replicated: only then may
`service/publish_after_ack.py` answer 202. No ack within the timeout raises
`BrokerUnavailableError` (the caller answers 503). A timeout cannot recall a record already
handed to the producer: it may still land. Clients retry with the same event id, and consumers
deduplicate by it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry import trace

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.telemetry import SpanScope
from lgsp_gateway.adapters.producer import Producer


class BrokerUnavailableError(Exception):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""


@dataclass(frozen=True)
class Placement:
    """Where the broker stored an event."""

    partition: int
    offset: int


class AckedPublisher:
    """Wraps the idempotent producer; a placement from here means the event is replicated."""

    def __init__(self, producer: Producer, tracer: trace.Tracer, timeout_s: float) -> None:
        self._producer = producer
        self._tracer = tracer
        self._timeout_s = timeout_s

    async def _enqueue(self, topic: str, event: CloudEvent, key: str | None) -> Any:
        record = to_kafka(event, key)
        return await self._producer.send(
            topic, value=record.value, key=record.key, headers=record.headers
        )

    def _span(self, topic: str, **attributes: Any) -> SpanScope:
        return SpanScope(
            self._tracer,
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic}
            | attributes,
        )

    async def publish(self, topic: str, event: CloudEvent, key: str | None) -> Placement:
        """Produce one event; raise BrokerUnavailableError when the ack does not come."""
        with self._span(topic, **{"messaging.message.id": event.id}):
            try:
                future = await self._enqueue(topic, event, key)
                async with asyncio.timeout(self._timeout_s):  # lighter than wait_for per call
                    metadata = await future
            except (TimeoutError, KafkaError) as exc:
                raise BrokerUnavailableError(type(exc).__name__) from exc
        return Placement(partition=metadata.partition, offset=metadata.offset)

    async def publish_many(
        self, topic: str, items: list[tuple[CloudEvent, str | None]]
    ) -> list[Placement | BrokerUnavailableError]:
        """Produce several events at once; each gets its placement or its failure."""
        with self._span(topic, **{"messaging.batch.message_count": len(items)}):
            try:
                futures = [await self._enqueue(topic, event, key) for event, key in items]
                done = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), self._timeout_s
                )
            except (TimeoutError, KafkaError) as exc:
                return [BrokerUnavailableError(type(exc).__name__) for _ in items]
        return [
            BrokerUnavailableError(type(d).__name__)
            if isinstance(d, BaseException)
            else Placement(d.partition, d.offset)
            for d in done
        ]
