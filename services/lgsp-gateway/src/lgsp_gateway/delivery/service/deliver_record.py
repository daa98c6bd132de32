"""Deliver one record to one subscription: sign, POST, retry with backoff, or dead-letter.

Returns only once the record is settled: acknowledged with a 2xx, or recorded on the webhook DLQ
(and that record acknowledged by Kafka). Only then may the subscription's position move past
it, which is what makes delivery at least once. Every attempt is signed afresh (a new
`webhook-timestamp`) with every live secret of the subscription as the registry copy has it
now. The trace of the record's producer continues through the delivery (W3C `traceparent`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from lgsp_common.webhooks import SecretBox
from lgsp_gateway.delivery.adapters.dead_letters import DeadLetter, WebhookDeadLetters
from lgsp_gateway.delivery.adapters.sender import Attempt, WebhookSender
from lgsp_gateway.delivery.domain.backoff import parse_retry_after, retry_delay
from lgsp_gateway.delivery.domain.cloudevent import Envelope
from lgsp_gateway.delivery.domain.plan import Plan
from lgsp_gateway.delivery.domain.signing import Signer
from lgsp_gateway.delivery.metrics import DeliveryMetrics
from lgsp_gateway.delivery.settings import WebhookSettings

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/cloudevents+json"


class Stopped(Exception):
    """The subscription may no longer be delivered (paused, revoked, deleted)."""


@dataclass(frozen=True)
class Place:
    """Where a record sits."""

    topic: str
    partition: int
    offset: int


class RecordDelivery:
    """Settles records: delivered (2xx) or dead-lettered after the attempt limit."""

    def __init__(
        self,
        settings: WebhookSettings,
        sender: WebhookSender,
        dead_letters: WebhookDeadLetters,
        metrics: DeliveryMetrics,
        tracer: trace.Tracer,
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._tracer = tracer
        self._box = SecretBox(settings.secrets_key.get_secret_value())
        self._signer = Signer()
        self._opened: dict[str, str] = {}

    def _secrets(self, plan: Plan) -> list[str]:
        found = []
        for sealed in plan.live_secrets(datetime.now(UTC)):
            secret = self._opened.get(sealed)
            if secret is None:
                secret = self._opened[sealed] = self._box.open(sealed)
            found.append(secret)
        return found

    async def settle(
        self, current: Callable[[], Plan | None], place: Place, event: Envelope
    ) -> bool:
        """Deliver until a 2xx or the attempt limit; returns whether it was delivered."""
        started = datetime.now(UTC).isoformat()
        attempt: Attempt | None = None
        for number in range(1, self._settings.max_attempts + 1):
            plan = current()
            if plan is None:
                raise Stopped(place)
            attempt = await self._attempt(plan, event)
            if attempt.delivered:
                self._metrics.delivered.labels(plan.id, plan.consumer_id).inc()
                return True
            self._metrics.failures.labels(plan.id, plan.consumer_id, attempt.reason).inc()
            if attempt.final or number == self._settings.max_attempts:
                break
            await asyncio.sleep(self._delay(number, attempt))
        plan = current()
        if plan is None:
            raise Stopped(place)
        assert attempt is not None
        await self._dead_letter(plan, place, event, attempt, number, started)
        return False

    def _delay(self, number: int, attempt: Attempt) -> float:
        s = self._settings
        asked = parse_retry_after(attempt.retry_after, s.max_retry_after_s)
        return retry_delay(number, s.backoff_base_s, s.backoff_max_s, asked)

    async def _attempt(self, plan: Plan, event: Envelope) -> Attempt:
        headers = self._signer.headers(
            event.event_id, datetime.now(UTC), event.body, self._secrets(plan)
        )
        headers["content-type"] = CONTENT_TYPE
        self._metrics.attempts.labels(plan.id, plan.consumer_id).inc()
        started = time.perf_counter()
        if event.traceparent and not trace.get_current_span().is_recording():
            parent = propagate.extract({"traceparent": event.traceparent})
        else:
            parent = None
        with self._tracer.start_as_current_span(
            "webhook deliver", context=parent, kind=SpanKind.PRODUCER
        ) as span:
            if span.is_recording():
                span.set_attribute("lgsp.subscription", plan.id)
                propagate.inject(headers)
            elif event.traceparent:
                headers["traceparent"] = event.traceparent  # continue the trace at no cost
            result = await self._sender.post(plan.url, event.body, headers)
        self._metrics.seconds.observe(time.perf_counter() - started)
        return result

    async def _dead_letter(
        self, plan: Plan, place: Place, event: Envelope, attempt: Attempt, number: int, at: str
    ) -> None:
        letter = DeadLetter(
            subscription_id=plan.id,
            consumer_id=plan.consumer_id,
            topic=place.topic,
            partition=place.partition,
            offset=place.offset,
            event_id=event.event_id,
            reason=attempt.reason,
            last_status=attempt.status,
            attempts=number,
            fields=event.disclosed,
            first_attempt_at=at,
        )
        await asyncio.wait_for(self._dead_letters.send(letter), self._settings.produce_timeout_s)
        self._metrics.dead_letters.labels(plan.id, plan.consumer_id).inc()
        log.warning(
            "webhook dead letter",
            extra={"subscription": plan.id, "offset": place.offset, "reason": attempt.reason},
        )

    async def refuse(self, plan: Plan, place: Place, reason: str) -> None:
        """Dead-letter a record that can never be delivered (not a JSON CloudEvent)."""
        now = datetime.now(UTC).isoformat()
        letter = DeadLetter(
            plan.id,
            plan.consumer_id,
            place.topic,
            place.partition,
            place.offset,
            None,
            reason,
            None,
            0,
            [],
            now,
        )
        await asyncio.wait_for(self._dead_letters.send(letter), self._settings.produce_timeout_s)
        self._metrics.dead_letters.labels(plan.id, plan.consumer_id).inc()
