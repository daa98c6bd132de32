"""Deliver one record to one subscription: sign, POST, retry with backoff, or dead-letter.

Returns only once the record is settled: acknowledged with a 2xx, or recorded on the webhook DLQ
(and that record acknowledged by Kafka). Only then may the subscription's position move past
it, which is what makes delivery at least once. Every attempt is signed afresh (a new
`webhook-timestamp`) with every live secret of the subscription as the registry copy has it
now. A `Retry-After` (429, 503) holds every attempt of the subscription until that time, not
only the record's own retry: the receiver said it is overloaded. The trace of the record's
producer continues through the delivery (W3C `traceparent`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
        tracing: Callable[[], bool] = lambda: True,
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._tracer = tracer
        self._box = SecretBox(settings.secrets_key.get_secret_value())
        self._signer = Signer()
        self._opened: dict[str, str] = {}
        self._tracing = tracing
        self._series: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._hold: dict[str, float] = {}

    def _counters(self, plan: Plan) -> tuple[Any, Any]:
        key = (plan.id, plan.consumer_id)
        found = self._series.get(key)
        if found is None:
            m = self._metrics
            found = self._series[key] = (m.attempts.labels(*key), m.delivered.labels(*key))
        return found

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
            await self._respect_hold(plan.id)
            attempt = await self._attempt(plan, event)
            if attempt.delivered:
                self._counters(plan)[1].inc()
                return True
            self._metrics.failures.labels(plan.id, plan.consumer_id, attempt.reason).inc()
            if attempt.final or number == self._settings.max_attempts:
                break
            await asyncio.sleep(self._delay(plan, number, attempt))
        plan = current()
        if plan is None:
            raise Stopped(place)
        assert attempt is not None
        await self._dead_letter(plan, place, event, attempt, number, started)
        return False

    def _delay(self, plan: Plan, number: int, attempt: Attempt) -> float:
        s = self._settings
        asked = parse_retry_after(attempt.retry_after, s.max_retry_after_s)
        if asked is not None:  # the receiver asked the whole subscription to hold off
            until = time.monotonic() + asked
            self._hold[plan.id] = max(self._hold.get(plan.id, 0.0), until)
        return retry_delay(number, s.backoff_base_s, s.backoff_max_s, asked)

    async def _respect_hold(self, subscription_id: str) -> None:
        wait = self._hold.get(subscription_id, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _attempt(self, plan: Plan, event: Envelope) -> Attempt:
        headers = self._signer.headers(
            event.event_id, datetime.now(UTC), event.body, self._secrets(plan)
        )
        headers["content-type"] = CONTENT_TYPE
        self._counters(plan)[0].inc()
        started = time.perf_counter()
        if not self._tracing():  # nothing records spans: pass the producer's trace on as it is
            if event.traceparent:
                headers["traceparent"] = event.traceparent
            result = await self._sender.post(plan.url, event.body, headers)
            self._metrics.seconds.observe(time.perf_counter() - started)
            return result
        carrier = {"traceparent": event.traceparent} if event.traceparent else {}
        with self._tracer.start_as_current_span(
            "webhook deliver", context=propagate.extract(carrier), kind=SpanKind.PRODUCER
        ) as span:
            span.set_attribute("lgsp.subscription", plan.id)
            propagate.inject(headers)
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
