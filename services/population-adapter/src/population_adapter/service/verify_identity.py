"""Use case: verify an identity without disclosure (match / no_match, never the record).

Checks in this order: gateway token (401), consumer and purpose (403), the body and every CCCD
rule (422), then the national database (503). An unknown number is `no_match`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lgsp_common.problems import ProblemError
from lgsp_vn.cccd import is_well_formed, mask_cccd
from population_adapter.api.models import VerifyRequest, VerifyResponse
from population_adapter.api.validation import check_cccd, loose_cccd, parse_body
from population_adapter.domain.verification import Outcome, compare_identity
from population_adapter.service.access_record import Access, province_now
from population_adapter.service.authenticate_caller import CallerCheck
from population_adapter.service.national_database import CitizenReader, read_citizen


@dataclass(frozen=True, slots=True)
class VerifyIdentity:
    """Compares a CCCD, full name and date of birth with the national database."""

    caller: CallerCheck
    source: CitizenReader

    async def __call__(self, access: Access, body: bytes) -> VerifyResponse:
        """Answer match / no_match for the identity in `body`."""
        self.caller.authenticate(access)
        try:
            request = parse_body(VerifyRequest, body)
        except ProblemError:
            access.cccd = loose_cccd(body)  # a well-formed id still makes an "invalid" event
            raise
        access.cccd = request.cccd if is_well_formed(request.cccd) else None
        check_cccd(request.cccd, request.date_of_birth, request.stated_sex)
        fetched = await read_citizen(self.source, access, request.cccd)
        outcome = compare_identity(fetched.citizen, request.full_name, request.date_of_birth)
        access.outcome = outcome
        access.verified_at = province_now()
        return VerifyResponse(
            verification_id=access.verification_id,
            outcome="match" if outcome is Outcome.MATCH else "no_match",
            cccd_masked=mask_cccd(request.cccd),
            verified_at=access.verified_at,
        )
