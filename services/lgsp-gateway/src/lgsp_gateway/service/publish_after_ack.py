"""The publish use case: authenticate, authorise, limit, validate, produce, audit."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from opentelemetry import trace

from lgsp_common.envelope import CloudEvent
from lgsp_common.ids import new_id
from lgsp_common.problems import FieldError, ProblemError
from lgsp_gateway.adapters.dead_letters import DeadLetters
from lgsp_gateway.adapters.directory import Caller, Directory
from lgsp_gateway.adapters.publisher import BrokerUnavailableError, EventPublisher, Placement
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.domain.credentials import api_key_from
from lgsp_gateway.domain.intake import event_from_http
from lgsp_gateway.domain.ratelimit import RateLimiter
from lgsp_gateway.service.rejections import (
    INPUT_STATUSES,
    Rejection,
    forbidden,
    too_large,
    unauthenticated,
)
from lgsp_gateway.settings import GatewaySettings
from lgsp_gateway.state import GatewayMetrics

log = logging.getLogger(__name__)


class AuditSink(Protocol):
    """Appends one record to the tamper-evident audit trail (lgsp_common.audit.AuditTrail)."""

    async def record(self, **fields: Any) -> Any: ...


@dataclass(frozen=True)
class Accepted:
    """An event the broker acknowledged."""

    id: str
    topic: str
    partition: int
    offset: int


@dataclass
class Call:
    """What one HTTP call carried, as the use case needs it."""

    topic: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime


class Ingest:
    """Runs every check of a publish call; the HTTP layer only translates in and out."""

    def __init__(
        self,
        settings: GatewaySettings,
        directory: Directory,
        publisher: EventPublisher,
        dead_letters: DeadLetters,
        audit: AuditSink,
        metrics: GatewayMetrics,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.publisher = publisher
        self._dead_letters = dead_letters
        self._audit = audit
        self.metrics = metrics
        self._limiter = RateLimiter(
            settings.rate_limit_per_source, settings.rate_limit_burst, settings.replicas
        )

    async def publish(self, topic: str, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Publish one event; raise a Rejection (already audited and dead-lettered) on refusal."""
        call = Call(topic, headers, body, datetime.now(UTC))
        caller: Caller | None = None
        event_id = headers.get("ce-id") or ""  # until the event is parsed
        try:
            caller = self.authorise(call)
            self.limit(caller, 1)
            if len(body) > self.settings.max_body_bytes:
                raise too_large(self.settings.max_body_bytes)
            event = self.parse(call, caller)
            event_id = event.id
            contract = self.contract_for(call, event)
            accepted = await self.produce(call, caller, event, contract)
        except Rejection as rejection:
            await self.refused(call, caller, rejection, [event_id or new_id()])
            raise
        await self.audit(call, caller, "success", 202, [accepted.id])
        self.metrics.accepted.labels(caller.id, topic).inc()
        return accepted

    def authorise(self, call: Call) -> Caller:
        """Return the calling source if its key is valid and it owns the topic."""
        key = api_key_from(call.headers)
        caller = self.directory.authenticate(key) if key else None
        if caller is None or caller.kind != "source":
            raise unauthenticated()
        if caller.topic != call.topic:
            raise forbidden(f"source {caller.id!r} may publish only to {caller.topic!r}")
        if not self.directory.versions(call.topic):
            raise Rejection(404, "unknown_topic", "Unknown topic", "no contract is registered")
        return caller

    def limit(self, caller: Caller, events: int) -> None:
        """Refuse with 429 and Retry-After when the source is over its rate."""
        wait = self._limiter.acquire(caller.id, events)
        if wait > 0:
            retry = "60" if wait == float("inf") else str(max(1, round(wait + 0.5)))
            raise Rejection(
                429,
                "rate_limited",
                "Too many events",
                f"source {caller.id!r} is over its rate limit",
                headers={"Retry-After": retry},
            )

    def parse(self, call: Call, caller: Caller) -> CloudEvent:
        """Read the CloudEvent and check it claims the caller's own source."""
        try:
            event = event_from_http(call.headers, call.body, f"/sources/{caller.id}")
        except ProblemError as problem:
            raise Rejection.wrap(problem, _parse_reason(problem.problem.status)) from None
        if event.source != f"/sources/{caller.id}":
            raise forbidden(f"the event claims source {event.source!r}, the key is {caller.id!r}")
        return event

    def contract_for(self, call: Call, event: CloudEvent) -> Contract:
        """Return the contract version to enforce and check the payload against it."""
        contract = self.directory.contract(call.topic, event.dataschema)
        if contract is None:
            raise Rejection(
                422,
                "unknown_dataschema",
                "Unknown contract version",
                f"{event.dataschema!r} is not a registered version of {call.topic!r}",
                errors=[FieldError(pointer="", rule="contract", message="unknown dataschema")],
            )
        errors = contract.violations(event.data)
        if errors:
            raise Rejection(
                422,
                "contract",
                "The event breaks its contract",
                f"{len(errors)} field(s) failed validation",
                errors=errors,
            )
        return contract

    async def produce(
        self, call: Call, caller: Caller, event: CloudEvent, contract: Contract
    ) -> Accepted:
        """Produce with the entity key; 503 with Retry-After if the broker does not ack."""
        key = contract.key_of(event.data)
        event = event.model_copy(update={"dataschema": contract.schema_uri, "subject": key})
        try:
            placement: Placement = await self.publisher.publish(call.topic, event, key)
        except BrokerUnavailableError as exc:
            raise Rejection(
                503,
                "broker_unavailable",
                "Kafka did not acknowledge the event",
                f"{exc}; the event was not accepted, send it again",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from exc
        return Accepted(event.id, call.topic, placement.partition, placement.offset)

    async def refused(
        self, call: Call, caller: Caller | None, rejection: Rejection, event_ids: list[str]
    ) -> None:
        """Count, dead-letter (input faults of authenticated sources) and audit a refusal."""
        source = caller.id if caller else "anonymous"
        self.metrics.rejected.labels(source, call.topic, rejection.reason).inc()
        status = rejection.problem.status
        if caller is not None and status in INPUT_STATUSES:
            await self._dead_letters.send(
                event_id=event_ids[0],
                topic=call.topic,
                source_id=caller.id,
                received_at=call.received_at,
                reasons=rejection.problem.errors
                or [FieldError(pointer="", rule=rejection.reason, message=rejection.problem.title)],
                payload=call.body,
                traceparent=call.headers.get("traceparent"),
            )
        await self.audit(call, caller, rejection.audit_result, status, event_ids)

    async def audit(
        self,
        call: Call,
        caller: Caller | None,
        result: str,
        status: int,
        event_ids: list[str],
        *,
        action: str = "event.publish",
        purpose: str | None = None,
    ) -> None:
        """Append the call to the audit trail: who, what, when, result, which events."""
        context = trace.get_current_span().get_span_context()
        actor = {"kind": caller.kind, "id": caller.id} if caller else {"kind": "anonymous"}
        fields: dict[str, Any] = {
            "timestamp": call.received_at.isoformat(),
            "actor": actor,
            "action": action,
            "topic": call.topic,
            "result": result,
            "status_code": status,
            "event_ids": sorted(set(event_ids)),
        }
        if purpose:
            fields["purpose"] = purpose
        if context.is_valid:
            fields["trace_id"] = f"{context.trace_id:032x}"
        await self._audit.record(**fields)


def _parse_reason(status: int) -> str:
    return {400: "malformed_json", 415: "media_type"}.get(status, "invalid_event")
