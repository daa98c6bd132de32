"""Webhook dead letters on `lgsp.webhooks.dlq`: which subscription, which record, why.

A record that could not be delivered after the attempt limit (or never may be: URL refused,
not a CloudEvent) is recorded with its subscription, consumer, topic, partition, offset, event
id, the last reason and status and the attempt count, and the names of the fields it would have
disclosed; never a payload value. The caller waits for the broker's ack before moving the
subscription's position past the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson

from lgsp_gateway.adapters.producer import Producer


@dataclass(frozen=True)
class DeadLetter:
    """One record given up on."""

    subscription_id: str
    consumer_id: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    reason: str
    last_status: int | None
    attempts: int
    fields: list[str]
    first_attempt_at: str


class WebhookDeadLetters:
    """Produces dead letters and waits for their acknowledgement."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def send(self, letter: DeadLetter) -> None:
        """Produce one dead letter keyed by subscription and wait for the ack."""
        record = {**asdict(letter), "dead_lettered_at": datetime.now(UTC).isoformat()}
        record = {k: v for k, v in record.items() if v is not None}
        future = await self._producer.send(
            self._topic,
            orjson.dumps(record),
            key=letter.subscription_id.encode(),
            headers=[("content-type", b"application/json")],
        )
        await future
