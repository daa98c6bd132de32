"""Rejected events go to `lgsp.dlq` with every reason, so nothing refused silently disappears."""

from __future__ import annotations

import logging
from datetime import datetime

import orjson
from prometheus_client import Counter

from lgsp_common.problems import FieldError
from lgsp_gateway.adapters.producer import Producer

log = logging.getLogger(__name__)
PAYLOAD_LIMIT = 65_536


class DeadLetters:
    """Produces one DLQ record per rejected event (not awaited: the answer is not delayed)."""

    def __init__(self, producer: Producer, topic: str, failures: Counter) -> None:
        self._producer = producer
        self._topic = topic
        self._failures = failures

    async def send(
        self,
        *,
        event_id: str,
        topic: str,
        source_id: str,
        received_at: datetime,
        reasons: list[FieldError],
        payload: bytes,
        dataschema: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        """Queue the DLQ record; a failure to deliver it is logged and counted."""
        text = payload.decode("utf-8", "replace")
        record: dict[str, object] = {
            "event_id": event_id,
            "original_topic": topic,
            "source": f"/sources/{source_id}",
            "received_at": received_at.isoformat(),
            "reasons": [r.model_dump() for r in reasons],
            "payload": text[:PAYLOAD_LIMIT],
            "payload_truncated": len(text) > PAYLOAD_LIMIT,
        }
        if dataschema:
            record["dataschema"] = dataschema
        if traceparent:
            record["traceparent"] = traceparent
        headers = [("content-type", b"application/json")]
        if traceparent:
            headers.append(("traceparent", traceparent.encode()))
        future = await self._producer.send(
            self._topic, orjson.dumps(record), key=event_id.encode(), headers=headers
        )
        future.add_done_callback(self._on_delivery)

    def _on_delivery(self, future: object) -> None:
        exception = future.exception()  # type: ignore[attr-defined]
        if exception is not None:
            self._failures.labels("dlq").inc()
            log.error("DLQ record not delivered", extra={"error": repr(exception)})
