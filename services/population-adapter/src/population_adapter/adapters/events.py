"""Verification outcomes as CloudEvents on `population.verification.v1` (masked payload)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from lgsp_common.audit import RecordSender
from lgsp_common.envelope import CloudEvent, to_kafka

EVENT_TYPE = "vn.gov.lgsp.population.verification.completed"
DATASCHEMA = (
    "https://lgsp.example.gov.vn/contracts/topics/population.verification.v1/v1.schema.json"
)


class VerificationSink(Protocol):
    """Where verification outcomes go."""

    async def publish(self, payload: dict[str, Any]) -> None:
        """Publish one outcome and wait until it is stored."""
        ...


class VerificationEvents:
    """Produces one CloudEvent per verification, keyed by its verification id."""

    def __init__(self, producer: RecordSender, topic: str, source: str) -> None:
        self._producer = producer
        self._topic = topic
        self._source = source

    async def publish(self, payload: dict[str, Any]) -> None:
        """Publish one outcome (binary mode, trace context from the current span)."""
        key = str(payload["verification_id"])
        event = CloudEvent(
            id=key,
            source=self._source,
            type=EVENT_TYPE,
            time=datetime.fromisoformat(str(payload["verified_at"])),
            subject=key,
            dataschema=DATASCHEMA,
            data=payload,
        )
        record = to_kafka(event, key)
        ack = await self._producer.send(
            self._topic, value=record.value, key=record.key, headers=record.headers
        )
        await ack
