"""Connect once for reads: departments reach the population adapter through the gateway.

Same API keys as publishing (a consumer's key), the consumer's approval and declared purpose
from the registry copy, and the same audit trail. The adapter trusts only the gateway (shared
token) and re-checks the approval and the fields the purpose allows. The adapter's answer is
relayed only once the gateway's own record of the access is acknowledged (`503
audit_unavailable` otherwise); refusals are audited too, and answered even without their record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from opentelemetry import propagate

from lgsp_common.problems import PROBLEM_MEDIA_TYPE
from lgsp_gateway.adapters.audit_log import AuditUnavailableError
from lgsp_gateway.adapters.directory import Directory
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.credentials import api_key_from
from lgsp_gateway.domain.rejections import Rejection, forbidden, too_large, unauthenticated
from lgsp_gateway.service.gatekeeper import Call
from lgsp_gateway.service.outcomes import Outcomes, audit_unavailable
from lgsp_gateway.settings import GatewaySettings

OPERATIONS = {"verify": "population.verify", "lookup": "population.lookup"}
READ_BODY_LIMIT = 16 * 1024


@dataclass(frozen=True)
class Relayed:
    """The adapter's answer, passed back as it is."""

    status: int
    body: bytes
    content_type: str


class PopulationReads:
    """Authenticates the consumer, forwards to the adapter, audits the access."""

    def __init__(
        self,
        settings: GatewaySettings,
        directory: Directory,
        outcomes: Outcomes,
        client: httpx.AsyncClient,
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._outcomes = outcomes
        self._client = client

    def _consumer(self, headers: Mapping[str, str]) -> Caller:
        key = api_key_from(headers)
        caller = self._directory.authenticate(key) if key else None
        if caller is None or caller.kind != "consumer":
            raise unauthenticated()
        return caller

    def _authorise(self, caller: Caller) -> None:
        if caller.topic != self._settings.population_resource or not caller.approved:
            resource = self._settings.population_resource
            raise forbidden(f"consumer {caller.id!r} is not approved to read {resource}")

    async def relay(self, operation: str, headers: Mapping[str, str], body: bytes) -> Relayed:
        """Forward one verify or lookup call; raise a Rejection when the gateway refuses it."""
        call = Call(self._settings.population_resource, headers, body, datetime.now(UTC))
        caller: Caller | None = None
        try:
            caller = self._consumer(headers)
            self._authorise(caller)
            if len(body) > READ_BODY_LIMIT:
                raise too_large(READ_BODY_LIMIT)
            relayed = await self._forward(operation, caller, body)
        except Rejection as rejection:
            self._outcomes.metrics.rejected.labels(
                caller.id if caller else "anonymous", call.topic, rejection.reason
            ).inc()
            await self._outcomes.audit_refusal(
                call,
                caller,
                rejection,
                [],
                action=OPERATIONS[operation],
                purpose=caller.purpose if caller else None,
            )
            raise
        await self._audit_answer(call, caller, operation, relayed.status)
        return relayed

    async def _audit_answer(self, call: Call, caller: Caller, operation: str, status: int) -> None:
        """Audit the relayed answer; 503 (the answer is withheld) if its record is not acked."""
        result = "success" if status < 400 else ("denied" if status in (401, 403) else "rejected")
        try:
            await self._outcomes.audit(
                call,
                caller,
                result,
                status,
                [],
                action=OPERATIONS[operation],
                purpose=caller.purpose,
            )
        except AuditUnavailableError as error:
            self._outcomes.metrics.rejected.labels(caller.id, call.topic, "audit_unavailable").inc()
            outcome = (
                f"the population adapter answered {status} (and audited the access on its own "
                "chain), but the answer is not relayed; asking again is safe"
            )
            raise audit_unavailable(error, self._settings.retry_after_s, outcome) from error

    async def _forward(self, operation: str, caller: Caller, body: bytes) -> Relayed:
        headers = {
            "content-type": "application/json",
            "x-lgsp-gateway-token": self._settings.population_adapter_token.get_secret_value(),
            "x-lgsp-consumer": caller.id,
            "x-lgsp-purpose": caller.purpose or "",
        }
        propagate.inject(headers)
        try:
            response = await self._client.post(f"/v1/{operation}", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _unavailable(self._settings.retry_after_s, type(exc).__name__) from exc
        if response.status_code >= 500:
            raise _unavailable(
                int(response.headers.get("retry-after", self._settings.retry_after_s)),
                f"the population adapter answered {response.status_code}",
            )
        return Relayed(
            response.status_code,
            response.content,
            response.headers.get("content-type", PROBLEM_MEDIA_TYPE),
        )


def _unavailable(retry_after: int, detail: str) -> Rejection:
    return Rejection(
        503,
        "population_unavailable",
        "The population database is unavailable",
        detail,
        headers={"Retry-After": str(retry_after)},
    )
