"""The verification outcome published for the IOC, with the CCCD masked and the requester coded.

Only verifications make events, and only once the consumer is known and the number is well
formed (a malformed number cannot even be masked): a match or no_match, `invalid` for a 422,
`unavailable` when the national database could not answer.
"""

from __future__ import annotations

from typing import Any

from lgsp_vn.cccd import mask_cccd
from population_adapter.adapters.registry import RegistryView, agency_code
from population_adapter.domain.verification import Outcome
from population_adapter.service.access_record import Access, province_now


def verification_event(
    access: Access, status: int, registry: RegistryView
) -> dict[str, Any] | None:
    """Return the event payload this access publishes, or None when it publishes none."""
    if access.operation != "verify" or access.grant is None or access.cccd is None:
        return None
    outcome = access.outcome if status == 200 else _failure_outcome(status, access)
    if outcome is None:
        return None
    verified_at = access.verified_at or province_now()
    requester = agency_code(registry, access.grant.organisation_id)
    return {
        "verification_id": access.verification_id,
        "requester": requester or access.grant.consumer_id,
        "purpose": access.grant.purpose.code,
        "outcome": outcome.value,
        "cccd_masked": mask_cccd(access.cccd),
        "province_code": access.cccd[:3],
        "verified_at": verified_at.isoformat(),
    }


def _failure_outcome(status: int, access: Access) -> Outcome | None:
    if status == 422:
        return Outcome.INVALID
    if access.outcome is Outcome.UNAVAILABLE:
        return Outcome.UNAVAILABLE
    return None
