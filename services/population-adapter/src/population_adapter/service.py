"""The adapter's two use cases, verify and look up: authenticated, authorised, audited.

Every request, whatever its answer, leaves one record on the audit chain before the answer
leaves the adapter; if the audit cannot be written nothing is disclosed (503). Verifications
also publish their outcome (masked) for the IOC. The order of checks is fixed: gateway token
(401), consumer approval and purpose (403), input (422), then the national database (503, 404).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol, TypeVar

from opentelemetry import trace

from lgsp_common.audit import AuditTrail
from lgsp_common.problems import ProblemError
from lgsp_vn.cccd import is_well_formed, mask_cccd
from lgsp_vn.masking import mask_identifiers
from population_adapter.adapters.events import VerificationSink
from population_adapter.adapters.registry import RegistryView, agency_code
from population_adapter.adapters.upstream import Fetched, UpstreamUnavailableError
from population_adapter.api.models import (
    LookupRequest,
    LookupResponse,
    VerifyRequest,
    VerifyResponse,
)
from population_adapter.domain.access import (
    AccessDeniedError,
    ConsumerGrant,
    DenialReason,
    authorize_consumer,
    authorize_lookup,
)
from population_adapter.domain.disclosure import disclose
from population_adapter.domain.verification import Outcome, compare_identity
from population_adapter.metrics import AdapterMetrics
from population_adapter.validation import (
    access_denied,
    check_cccd,
    fields_refused,
    loose_cccd,
    parse_body,
)

log = logging.getLogger(__name__)
PROVINCE_TZ = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh, no daylight saving
T = TypeVar("T")
Operation = Literal["verify", "lookup"]


class CitizenReader(Protocol):
    """Where citizens are read from (the resilient upstream client)."""

    async def fetch(self, cccd: str) -> Fetched:
        """Return the citizen (or None) and whether the cache served it."""
        ...


@dataclass(frozen=True, slots=True)
class CallerHeaders:
    """What the gateway says about the caller."""

    gateway_token: str | None
    consumer_id: str | None
    purpose: str | None


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The service's own settings."""

    gateway_token: bytes
    consumer_resource: str | None
    verification_topic: str


def _new_verification_id() -> str:
    return f"XT-{datetime.now(PROVINCE_TZ):%Y%m%d}-{uuid.uuid4().hex[:12]}"


@dataclass
class Access:
    """What one request did, filled in as it goes; its audit record and event come from it."""

    operation: Operation
    headers: CallerHeaders
    authenticated: bool = False
    grant: ConsumerGrant | None = None
    cccd: str | None = None  # set only once known to be well formed
    outcome: Outcome | None = None
    denial: str | None = None
    verification_id: str = field(default_factory=_new_verification_id)
    verified_at: datetime | None = None
    disclosed: tuple[str, ...] = ()  # field names (never values) handed to the consumer


class PopulationService:
    """Verify and look up citizens for approved consumers, auditing every access."""

    def __init__(
        self,
        config: ServiceConfig,
        registry: RegistryView,
        source: CitizenReader,
        audit: AuditTrail,
        events: VerificationSink,
        metrics: AdapterMetrics,
        tracer: trace.Tracer,
    ) -> None:
        self._config = config
        self._registry = registry
        self._source = source
        self._audit = audit
        self._events = events
        self._metrics = metrics
        self._tracer = tracer

    async def verify(self, headers: CallerHeaders, body: bytes) -> VerifyResponse:
        """Answer match / no_match for a CCCD, full name and date of birth."""
        access = Access("verify", headers)
        return await self._run(access, lambda: self._verify(access, body))

    async def lookup(self, headers: CallerHeaders, body: bytes) -> LookupResponse:
        """Return the fields of a record that the purpose and the consumer's approval allow."""
        access = Access("lookup", headers)
        return await self._run(access, lambda: self._lookup(access, body))

    async def _run(self, access: Access, work: Callable[[], Awaitable[T]]) -> T:
        with self._tracer.start_as_current_span(f"population.{access.operation}") as span:
            try:
                answer = await work()
            except ProblemError as exc:
                await self._finish(access, exc.problem.status, span)
                raise
            except Exception:
                await self._finish(access, 500, span)  # a bug is an access too
                raise
            await self._finish(access, 200, span)
            return answer

    async def _verify(self, access: Access, body: bytes) -> VerifyResponse:
        self._authenticate(access)
        try:
            request = parse_body(VerifyRequest, body)
        except ProblemError:
            access.cccd = loose_cccd(body)
            raise
        access.cccd = request.cccd if is_well_formed(request.cccd) else None
        check_cccd(request.cccd, request.date_of_birth, request.stated_sex)
        fetched = await self._fetch(access, request.cccd)
        outcome = compare_identity(fetched.citizen, request.full_name, request.date_of_birth)
        access.outcome = outcome
        access.verified_at = datetime.now(PROVINCE_TZ).replace(microsecond=0)
        return VerifyResponse(
            verification_id=access.verification_id,
            outcome="match" if outcome is Outcome.MATCH else "no_match",
            cccd_masked=mask_cccd(request.cccd),
            verified_at=access.verified_at,
        )

    async def _lookup(self, access: Access, body: bytes) -> LookupResponse:
        grant = self._authenticate(access)
        request = parse_body(LookupRequest, body)
        access.cccd = request.cccd if is_well_formed(request.cccd) else None
        if request.purpose != grant.purpose.code:
            access.denial = DenialReason.PURPOSE_MISMATCH
            raise access_denied(
                DenialReason.PURPOSE_MISMATCH,
                f"the body's purpose differs from the purpose '{grant.purpose.code}' the "
                "consumer declared through the gateway",
            )
        check_cccd(request.cccd, None, None)
        decision = authorize_lookup(grant, request.fields)
        if decision.refused or not decision.granted:
            access.denial = "FIELDS_REFUSED"
            raise fields_refused(decision, request.fields)
        fetched = await self._fetch(access, request.cccd)
        if fetched.citizen is None:
            raise ProblemError(
                404, "No such citizen", "the national database holds no record for this id"
            )
        disclosed = disclose(fetched.citizen, decision.granted)
        access.disclosed = tuple(sorted(disclosed))
        return LookupResponse(
            cccd_masked=mask_cccd(request.cccd),
            purpose=grant.purpose.code,
            fields=disclosed,
            cached=fetched.cached,
        )

    def _authenticate(self, access: Access) -> ConsumerGrant:
        token = access.headers.gateway_token
        if token is None or not hmac.compare_digest(token.encode(), self._config.gateway_token):
            access.denial = "GATEWAY_TOKEN"
            raise ProblemError(
                401,
                "Not called through the gateway",
                "the adapter answers the LGSP gateway only (X-LGSP-Gateway-Token)",
                problem_type="gateway-token-required",
                headers={"WWW-Authenticate": 'LGSP-Gateway realm="population-adapter"'},
            )
        access.authenticated = True
        consumer_id = access.headers.consumer_id or ""
        consumer = self._registry.get("consumer", consumer_id) if consumer_id else None
        try:
            grant = authorize_consumer(
                consumer,
                consumer_id,
                access.headers.purpose or "",
                self._config.consumer_resource,
            )
        except AccessDeniedError as exc:
            access.denial = exc.reason
            raise access_denied(exc.reason, exc.message) from None
        access.grant = grant
        return grant

    async def _fetch(self, access: Access, cccd: str) -> Fetched:
        try:
            return await self._source.fetch(cccd)
        except UpstreamUnavailableError as exc:
            access.outcome = Outcome.UNAVAILABLE
            raise ProblemError(
                503,
                "The national population database is unavailable",
                f"{exc.reason}; nothing was disclosed, retry later",
                problem_type="upstream-unavailable",
                headers={"Retry-After": exc.retry_after},
            ) from None

    async def _finish(self, access: Access, status: int, span: trace.Span) -> None:
        result = _result(status)
        self._metrics.requests.labels(access.operation, result).inc()
        if access.denial is not None:
            self._metrics.denied.labels(str(access.denial)).inc()
        event = self._event(access, status)
        span.set_attribute("population.result", result)
        if access.cccd is not None:
            span.set_attribute("population.cccd_masked", mask_cccd(access.cccd))
        if event is not None:
            span.set_attribute("population.outcome", str(event["outcome"]))
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
        log.debug(
            "population access",
            extra={
                "operation": access.operation,
                "result": result,
                "status": status,
                "cccd_masked": mask_cccd(access.cccd) if access.cccd else None,
            },
        )

    def _event(self, access: Access, status: int) -> dict[str, Any] | None:
        if access.operation != "verify" or access.grant is None or access.cccd is None:
            return None
        outcome = access.outcome if status == 200 else _failure_outcome(status, access)
        if outcome is None:
            return None
        verified_at = access.verified_at or datetime.now(PROVINCE_TZ).replace(microsecond=0)
        requester = agency_code(self._registry, access.grant.organisation_id)
        return {
            "verification_id": access.verification_id,
            "requester": requester or access.grant.consumer_id,
            "purpose": access.grant.purpose.code,
            "outcome": outcome.value,
            "cccd_masked": mask_cccd(access.cccd),
            "province_code": access.cccd[:3],
            "verified_at": verified_at.isoformat(),
        }

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
            topic=self._config.verification_topic if access.operation == "verify" else None,
            purpose=_safe(headers.purpose) if headers.purpose else None,
            result=result,
            status_code=status,
            event_ids=[event["verification_id"]] if event is not None else [],
            fields=list(access.disclosed) or None,
            trace_id=format(context.trace_id, "032x") if context.is_valid else None,
        )


def _failure_outcome(status: int, access: Access) -> Outcome | None:
    if status == 422:
        return Outcome.INVALID
    if access.outcome is Outcome.UNAVAILABLE:
        return Outcome.UNAVAILABLE
    return None


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
