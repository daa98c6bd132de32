"""Nothing is disclosed without an audit record: every access is audited before it is answered.

Each request, whatever its answer (200, 401, 403, 404, 422, 503, or a bug's 500), appends one
record to the signed audit chain; the answer leaves only once the broker acknowledged it. If it
did not, the answer becomes a 503 and nothing is disclosed. A verification's masked outcome is
published at the same time; losing one is counted but does not change the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opentelemetry import trace

from lgsp_common.audit import AuditTrail
from lgsp_common.problems import ProblemError
from lgsp_vn.cccd import mask_cccd
from lgsp_vn.masking import mask_identifiers
from population_adapter.adapters.events import VerificationSink
from population_adapter.adapters.registry import RegistryView
from population_adapter.metrics import AdapterMetrics
from population_adapter.service.access_record import Access, CallerHeaders, Operation
from population_adapter.service.verification_event import verification_event

log = logging.getLogger(__name__)
T = TypeVar("T")
UseCase = Callable[[Access, bytes], Awaitable[T]]


class AuditedAccess:
    """Runs a use case under a span and answers only once its access is audited."""

    def __init__(
        self,
        audit: AuditTrail,
        events: VerificationSink,
        registry: RegistryView,
        metrics: AdapterMetrics,
        tracer: trace.Tracer,
        verification_topic: str,
    ) -> None:
        self._audit = audit
        self._events = events
        self._registry = registry
        self._metrics = metrics
        self._tracer = tracer
        self._verification_topic = verification_topic

    async def run(
        self, operation: Operation, headers: CallerHeaders, use_case: UseCase[T], body: bytes
    ) -> T:
        """Run `use_case` on `body`; audit the access, then answer (or raise its problem)."""
        access = Access(operation, headers)
        with self._tracer.start_as_current_span(f"population.{operation}") as span:
            try:
                answer = await use_case(access, body)
            except ProblemError as exc:
                await self._finish(access, exc.problem.status, span)
                raise
            except Exception:
                await self._finish(access, 500, span)  # a bug is an access too
                raise
            await self._finish(access, 200, span)
            return answer

    async def _finish(self, access: Access, status: int, span: trace.Span) -> None:
        result = _result(status)
        self._metrics.requests.labels(access.operation, result).inc()
        if access.denial is not None:
            self._metrics.denied.labels(str(access.denial)).inc()
        event = verification_event(access, status, self._registry)
        _annotate(span, access, result, event)
        await self._store(access, status, result, event)
        log.debug(
            "population access",
            extra={
                "operation": access.operation,
                "result": result,
                "status": status,
                "cccd_masked": mask_cccd(access.cccd) if access.cccd else None,
            },
        )

    async def _store(
        self, access: Access, status: int, result: str, event: dict[str, Any] | None
    ) -> None:
        """Write the audit record and publish the event together; 503 if the audit failed."""
        pending: list[Awaitable[Any]] = [self._record_audit(access, status, result, event)]
        if event is not None:
            pending.append(self._events.publish(event))
        audit_error, *event_errors = await asyncio.gather(*pending, return_exceptions=True)
        for error in event_errors:
            if isinstance(error, BaseException):
                self._metrics.event_failures.inc()
                log.warning("verification event not stored: %s", type(error).__name__)
        if isinstance(audit_error, BaseException):
            self._metrics.audit_failures.inc()
            log.error("audit record not stored: %s", type(audit_error).__name__)
            raise ProblemError(
                503,
                "The access could not be audited",
                "nothing is disclosed without an audit record; retry later",
                problem_type="audit-unavailable",
                headers={"Retry-After": "5"},
            )

    async def _record_audit(
        self, access: Access, status: int, result: str, event: dict[str, Any] | None
    ) -> None:
        headers = access.headers
        actor: dict[str, str] = {"kind": "anonymous"}
        if access.authenticated and headers.consumer_id:
            actor = {"kind": "consumer", "id": _safe(headers.consumer_id)}
        context = trace.get_current_span().get_span_context()
        await self._audit.record(
            actor=actor,
            action=f"population.{access.operation}",
            topic=self._verification_topic if access.operation == "verify" else None,
            purpose=_safe(headers.purpose) if headers.purpose else None,
            result=result,
            status_code=status,
            event_ids=[event["verification_id"]] if event is not None else [],
            fields=list(access.disclosed) or None,
            trace_id=format(context.trace_id, "032x") if context.is_valid else None,
        )


def _annotate(span: trace.Span, access: Access, result: str, event: dict[str, Any] | None) -> None:
    span.set_attribute("population.result", result)
    if access.cccd is not None:
        span.set_attribute("population.cccd_masked", mask_cccd(access.cccd))
    if event is not None:
        span.set_attribute("population.outcome", str(event["outcome"]))


def _result(status: int) -> str:
    if status in (401, 403):
        return "denied"
    if status == 422:
        return "rejected"
    if status >= 500:
        return "error"
    return "success"


def _safe(text: str) -> str:
    # Header values come from the gateway, yet nothing resembling an id may reach the audit.
    return mask_identifiers(text)[:128] or "-"
