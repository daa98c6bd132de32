"""What happens to every call's outcome: counted, audited, and (refused input) dead-lettered.

A refusal of an authenticated source's own input (400, 413, 415, 422) goes to `lgsp.dlq` with
every reason; every call, accepted or refused, is appended to the tamper-evident audit trail.
"""

from __future__ import annotations

from typing import Any, Protocol

from opentelemetry import trace

from lgsp_common.problems import FieldError
from lgsp_gateway.adapters.dead_letters import DeadLetters
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.rejections import INPUT_STATUSES, Rejection
from lgsp_gateway.metrics import GatewayMetrics
from lgsp_gateway.service.gatekeeper import Call


class AuditSink(Protocol):
    """Appends one record to the tamper-evident audit trail (lgsp_common.audit.AuditTrail)."""

    async def record(self, **fields: Any) -> Any: ...


class Outcomes:
    """Counts, dead-letters and audits the outcome of each call."""

    def __init__(
        self, dead_letters: DeadLetters, audit: AuditSink, metrics: GatewayMetrics
    ) -> None:
        self._dead_letters = dead_letters
        self._audit = audit
        self.metrics = metrics

    def accepted(self, caller: Caller, topic: str, events: int = 1) -> None:
        """Count events the broker acknowledged."""
        self.metrics.accepted.labels(caller.id, topic).inc(events)

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
