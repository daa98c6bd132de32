"""Use case: a purpose-bound lookup, disclosing only the fields purpose and approval both allow.

Checks in this order: gateway token (401), consumer and purpose (403), the body (422), the
body's purpose against the declared one (403), the CCCD rules (422), each requested field
(403 naming every refused one), then the national database (503, 404).
"""

from __future__ import annotations

from dataclasses import dataclass

from lgsp_common.problems import ProblemError
from lgsp_vn.cccd import is_well_formed, mask_cccd
from population_adapter.api.models import LookupRequest, LookupResponse
from population_adapter.api.validation import access_denied, check_cccd, fields_refused, parse_body
from population_adapter.domain.access import ConsumerGrant, DenialReason, authorize_lookup
from population_adapter.domain.disclosure import disclose
from population_adapter.service.access_record import Access
from population_adapter.service.authenticate_caller import CallerCheck
from population_adapter.service.national_database import CitizenReader, read_citizen


@dataclass(frozen=True, slots=True)
class LookupCitizen:
    """Reads the granted fields of one citizen's record."""

    caller: CallerCheck
    source: CitizenReader

    async def __call__(self, access: Access, body: bytes) -> LookupResponse:
        """Return the fields of the record in `body` that this consumer may see."""
        grant = self.caller.authenticate(access)
        request = parse_body(LookupRequest, body)
        access.cccd = request.cccd if is_well_formed(request.cccd) else None
        _check_declared_purpose(access, grant, request.purpose)
        check_cccd(request.cccd, None, None)
        decision = authorize_lookup(grant, request.fields)
        if decision.refused or not decision.granted:
            access.denial = "FIELDS_REFUSED"
            raise fields_refused(decision, request.fields)
        fetched = await read_citizen(self.source, access, request.cccd)
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


def _check_declared_purpose(access: Access, grant: ConsumerGrant, purpose: str) -> None:
    if purpose == grant.purpose.code:
        return
    access.denial = DenialReason.PURPOSE_MISMATCH
    raise access_denied(
        DenialReason.PURPOSE_MISMATCH,
        f"the body's purpose differs from the purpose '{grant.purpose.code}' the consumer "
        "declared through the gateway",
    )
