"""The first checks of every request: the gateway's token (401), then the consumer's grant (403).

Only the LGSP gateway may call the adapter; it names the consumer it authenticated and the
purpose declared. The consumer must be approved in the registry copy for the population
resource and that purpose (`domain/access.py` holds the rules).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from lgsp_common.problems import ProblemError
from population_adapter.adapters.registry import RegistryView
from population_adapter.api.validation import access_denied
from population_adapter.domain.access import AccessDeniedError, ConsumerGrant, authorize_consumer
from population_adapter.service.access_record import Access


@dataclass(frozen=True, slots=True)
class CallerCheck:
    """Authenticates the gateway and authorises the consumer it speaks for."""

    gateway_token: bytes
    consumer_resource: str | None
    registry: RegistryView

    def authenticate(self, access: Access) -> ConsumerGrant:
        """Return the consumer's grant, or raise the 401 / 403 (recording why on `access`)."""
        self._check_gateway_token(access)
        access.authenticated = True
        consumer_id = access.headers.consumer_id or ""
        consumer = self.registry.get("consumer", consumer_id) if consumer_id else None
        try:
            grant = authorize_consumer(
                consumer, consumer_id, access.headers.purpose or "", self.consumer_resource
            )
        except AccessDeniedError as exc:
            access.denial = exc.reason
            raise access_denied(exc.reason, exc.message) from None
        access.grant = grant
        return grant

    def _check_gateway_token(self, access: Access) -> None:
        token = access.headers.gateway_token
        if token is not None and hmac.compare_digest(token.encode(), self.gateway_token):
            return
        access.denial = "GATEWAY_TOKEN"
        raise ProblemError(
            401,
            "Not called through the gateway",
            "the adapter answers the LGSP gateway only (X-LGSP-Gateway-Token)",
            problem_type="gateway-token-required",
            headers={"WWW-Authenticate": 'LGSP-Gateway realm="population-adapter"'},
        )
