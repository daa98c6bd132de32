"""The adapter's two use cases, verify and look up, each run as an audited access.

The checks of each use case are in `verify_identity.py` and `lookup_citizen.py`; the rule that
every access is audited before it is answered is in `audited_access.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace

from lgsp_common.audit import AuditTrail
from population_adapter.adapters.events import VerificationSink
from population_adapter.adapters.registry import RegistryView
from population_adapter.api.models import LookupResponse, VerifyResponse
from population_adapter.metrics import AdapterMetrics
from population_adapter.service.access_record import CallerHeaders
from population_adapter.service.audited_access import AuditedAccess
from population_adapter.service.authenticate_caller import CallerCheck
from population_adapter.service.lookup_citizen import LookupCitizen
from population_adapter.service.national_database import CitizenReader
from population_adapter.service.verify_identity import VerifyIdentity


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The service's own settings."""

    gateway_token: bytes
    consumer_resource: str | None
    verification_topic: str


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
        caller = CallerCheck(config.gateway_token, config.consumer_resource, registry)
        self._audited = AuditedAccess(
            audit, events, registry, metrics, tracer, config.verification_topic
        )
        self._verify = VerifyIdentity(caller, source)
        self._lookup = LookupCitizen(caller, source)

    async def verify(self, headers: CallerHeaders, body: bytes) -> VerifyResponse:
        """Answer match / no_match for a CCCD, full name and date of birth."""
        return await self._audited.run("verify", headers, self._verify, body)

    async def lookup(self, headers: CallerHeaders, body: bytes) -> LookupResponse:
        """Return the fields of a record that the purpose and the consumer's approval allow."""
        return await self._audited.run("lookup", headers, self._lookup, body)
