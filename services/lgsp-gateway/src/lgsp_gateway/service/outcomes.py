"""What happens to every call's outcome: counted, audited, and (refused input) dead-lettered.

A refusal of an authenticated source's own input (400, 413, 415, 422) goes to `lgsp.dlq` with
every reason; every call, accepted or refused, is appended to the tamper-evident audit trail and
answered only once Kafka acknowledged its record (`adapters/audit_log.py`). `audit` raises
`AuditUnavailableError` when the record was not acknowledged: a use case then answers 503
(`audit_unavailable`) instead of its 2xx. A refusal is answered as it is even then (nothing was
accepted or disclosed); its missing record is counted and logged. A 4xx waits for its record
like a 2xx; a 5xx (the platform failed) starts its record without waiting for it.
"""

from __future__ import annotations

from typing import Any, Protocol

from opentelemetry import trace

from lgsp_common.problems import FieldError
from lgsp_gateway.adapters.audit_log import AuditUnavailableError
from lgsp_gateway.adapters.dead_letters import DeadLetters
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.intake import carries_cccd
from lgsp_gateway.domain.rejections import INPUT_STATUSES, Rejection
from lgsp_gateway.metrics import GatewayMetrics
from lgsp_gateway.service.gatekeeper import Call
from lgsp_vn.masking import mask_identifiers

DUPLICATE_NOTE = (
    "sending again with the same ce-id is safe: the gateway does not deduplicate, so the topic "
    "then holds two copies with that ce-id, which the platform's consumers treat as one event "
    "(the KPI collector counts an id once; pull and webhook consumers must key on ce-id)"
)


class AuditSink(Protocol):
    """Appends one audit record and returns after Kafka's ack (`adapters.audit_log.AckedAudit`);
    raises AuditUnavailableError otherwise."""

    async def record(self, **fields: Any) -> Any: ...

    def begin(self, **fields: Any) -> bool: ...


class Outcomes:
    """Counts, dead-letters and audits the outcome of each call."""

    def __init__(
        self,
        dead_letters: DeadLetters,
        audit: AuditSink,
        metrics: GatewayMetrics,
        *,
        wait: bool = True,
    ) -> None:
        self._dead_letters = dead_letters
        self._audit = audit
        self.metrics = metrics
        self._wait = wait  # False only to measure the audit's cost (`audit_wait`, loopback)

    def accepted(self, caller: Caller, topic: str, events: int = 1) -> None:
        """Count events the broker acknowledged."""
        self.metrics.accepted.labels(caller.id, topic).inc(events)

    async def refused(
        self, call: Call, caller: Caller | None, rejection: Rejection, event_ids: list[str]
    ) -> bool:
        """Count, dead-letter (input faults of authenticated sources) and audit a refusal;
        return whether its audit record was acknowledged."""
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
        return await self.audit_refusal(call, caller, rejection, event_ids)

    async def audit_refusal(
        self,
        call: Call,
        caller: Caller | None,
        rejection: Rejection,
        event_ids: list[str],
        *,
        action: str = "event.publish",
        purpose: str | None = None,
    ) -> bool:
        """Audit a refusal and wait for the ack; return False if it did not come (the refusal
        is answered all the same: nothing was accepted or disclosed).

        A 5xx (the platform failed: broker, registry copy, adapter) does not wait: its record
        is started and tracked like the others, and the 503 is not held up by the audit, which
        is likely failing for the same reason.
        """
        status, result = rejection.problem.status, rejection.audit_result
        fields = self._fields(call, caller, result, status, event_ids, action, purpose)
        # What a refused call named is unchecked input: a CCCD sent as the topic or as an
        # event id is masked before it rests in the trail (accepted ids cannot hold one).
        fields["topic"] = mask_identifiers(call.topic)
        fields["event_ids"] = sorted(
            {mask_identifiers(i) if carries_cccd(i) else i for i in event_ids}
        )
        if status >= 500:
            return self._audit.begin(**fields)
        try:
            await self._audit.record(**fields)
        except AuditUnavailableError:
            return False  # counted by reason (gateway_audit_unavailable); failures also logged
        return True

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
        """Append the call to the audit trail (who, what, when, result, which events) and wait
        for Kafka's ack; raise AuditUnavailableError when it does not come."""
        fields = self._fields(call, caller, result, status, event_ids, action, purpose)
        if not self._wait:
            self._audit.begin(**fields)
            return
        await self._audit.record(**fields)

    @staticmethod
    def _fields(
        call: Call,
        caller: Caller | None,
        result: str,
        status: int,
        event_ids: list[str],
        action: str,
        purpose: str | None,
    ) -> dict[str, Any]:
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
        return fields


def audit_unavailable(error: AuditUnavailableError, retry_after_s: int, outcome: str) -> Rejection:
    """503: the call's audit record was not acknowledged, so no 2xx; `outcome` says what was
    nevertheless done (written or not)."""
    return Rejection(
        503,
        "audit_unavailable",
        "The call cannot be audited now",
        f"no acknowledgement without its audit record ({error.reason}: {error.detail}); {outcome}",
        headers={"Retry-After": str(retry_after_s)},
    )
