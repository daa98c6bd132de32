"""The checks every publish passes before anything is produced.

Authorisation (a valid source key, the source's own topic, a topic with a contract), the
per-source rate limit, parsing (CloudEvents HTTP binding, the caller's own source) and contract
selection (the version the event names, else the latest) with payload validation: the payload's
text is put in Unicode NFC first (unless the contract keeps bytes as sent), and the event's
`type` must be the contract's `eventType`. Each check
refuses with a `Rejection`; none of them does I/O (the directory reads the registry copy in
memory). Before any key is looked up, a stale registry copy refuses the call with 503
(`registry_freshness`): keys revoked since are not trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from lgsp_common.envelope import CloudEvent
from lgsp_common.problems import FieldError, ProblemError
from lgsp_gateway.adapters.directory import Directory
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.contracts import Contract, TextCollisionError, ascii_json
from lgsp_gateway.domain.credentials import api_key_from
from lgsp_gateway.domain.intake import event_from_http
from lgsp_gateway.domain.ratelimit import Limiter, RateLimiter
from lgsp_gateway.domain.rejections import Rejection, forbidden, unauthenticated
from lgsp_gateway.service.registry_freshness import RegistryFreshness
from lgsp_gateway.settings import GatewaySettings


@dataclass
class Call:
    """What one HTTP call carried, as the use cases need it."""

    topic: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    @cached_property
    def ascii_only(self) -> bool:
        """Whether the body's JSON holds only ASCII text (computed once, even for a batch)."""
        return ascii_json(self.body)


class Gatekeeper:
    """Authorises, rate-limits, parses and selects the contract; refuses with a Rejection."""

    def __init__(
        self,
        settings: GatewaySettings,
        directory: Directory,
        registry: Any = None,
        *,
        limiter: Limiter | None = None,
    ) -> None:
        self.directory = directory
        # The registry copy behind the directory, whose freshness every call checks first.
        registry = registry if registry is not None else getattr(directory, "_registry", None)
        self.freshness = RegistryFreshness.from_env(registry, settings.retry_after_s)
        # Alone, the buckets are this process's; in a worker group, shared by all its workers.
        self._limiter = limiter or RateLimiter(
            settings.rate_limit_per_source, settings.rate_limit_burst, settings.replicas
        )

    def authorise(self, call: Call) -> Caller:
        """Return the calling source if its key is valid and it owns the topic."""
        self.freshness.check()
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

    def admit(self, call: Call, event: CloudEvent) -> tuple[CloudEvent, Contract]:
        """Select the contract version, put the payload's text in NFC, check payload and type.

        Returns the event as it will be stored (its data in NFC unless the contract keeps the
        bytes as sent) and the contract it passed.
        """
        contract = self.directory.contract(call.topic, event.dataschema)
        if contract is None:
            raise Rejection(
                422,
                "unknown_dataschema",
                "Unknown contract version",
                f"{event.dataschema!r} is not a registered version of {call.topic!r}",
                errors=[FieldError(pointer="", rule="contract", message="unknown dataschema")],
            )
        data = self._normalised(contract, event.data, call.ascii_only)
        if data is not event.data:
            event = event.model_copy(update={"data": data})
        errors = contract.violations(data)
        type_error = contract.type_error(event.type, data)
        if errors:
            raise Rejection(
                422,
                "contract",
                "The event breaks its contract",
                f"{len(errors)} field(s) failed validation",
                errors=errors if type_error is None else [*errors, type_error],
            )
        if type_error is not None:
            raise Rejection(
                422,
                "event_type",
                "The event type is not the contract's",
                f"ce-type must be the eventType that {contract.schema_uri} declares",
                errors=[type_error],
            )
        return event, contract

    @staticmethod
    def _normalised(contract: Contract, data: Any, ascii_only: bool) -> Any:
        try:
            return contract.normalised(data, ascii_only)
        except TextCollisionError as exc:
            raise Rejection(
                422,
                "contract",
                "The event breaks its contract",
                "two keys are the same text in different Unicode encodings",
                errors=[exc.error],
            ) from None


def _parse_reason(status: int) -> str:
    return {400: "malformed_json", 415: "media_type"}.get(status, "invalid_event")
