"""OIDC bearer tokens: a JWT signed by the configured issuer, checked against its JWKS.

PyJWT does the cryptography and the claim checks (signature with RS256/ES256 only, `exp`,
`nbf`, `iss`, `aud`); `PyJWKClient` fetches the issuer's key set over HTTP and caches it,
refetching when a token names a key id it does not hold (a key rotation). The fetch blocks,
so it runs in a worker thread, never in the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import jwt

from ioc_collector.settings import OidcSettings

log = logging.getLogger(__name__)


class OidcVerifier:
    """Validates an issuer's bearer tokens; `claims` returns None for any token it refuses."""

    def __init__(self, settings: OidcSettings) -> None:
        if not settings.enabled or settings.jwks_url is None:
            raise ValueError("OIDC is not configured")
        self._settings = settings
        self.role_claim = settings.role_claim
        self._keys = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    async def claims(self, token: str) -> dict[str, Any] | None:
        """Return the token's claims when it is valid for this issuer and audience, else None."""
        return await asyncio.to_thread(self._decode, token)

    def _decode(self, token: str) -> dict[str, Any] | None:
        settings = self._settings
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("OIDC token refused", extra={"reason": type(exc).__name__})
            return None
        return claims
