"""Fail closed on a stale registry copy: no authenticated call is trusted to old keys.

The copy confirms every second or so that it has read `lgsp.registry` up to its end
(`RegistryCopy.age_s`); a revocation can only be missed while that confirmation is old. When it
is older than `LGSP_GATEWAY_REGISTRY_MAX_STALENESS_S`, or the follower is down, every call that
needs a credential is refused with 503 and Retry-After, before its key is even looked up.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lgsp_gateway.domain.rejections import Rejection


class FreshnessSettings(BaseSettings):
    """The staleness bound (read beside `GatewaySettings`, same prefix)."""

    model_config = SettingsConfigDict(env_prefix="LGSP_GATEWAY_", extra="ignore")

    registry_max_staleness_s: float = Field(
        default=30.0,
        gt=0,
        description="Refuse authenticated calls (503) when the registry copy has not confirmed "
        "reaching the end of lgsp.registry for this long.",
    )


class RegistryFreshness:
    """Refuses with 503 while the registry copy is stale; a copy without `stale` is trusted."""

    def __init__(self, registry: Any, max_staleness_s: float, retry_after_s: int) -> None:
        self.registry = registry
        self._stale = getattr(registry, "stale", None)
        self.max_staleness_s = max_staleness_s
        self._retry_after = str(retry_after_s)

    @classmethod
    def from_env(cls, registry: Any, retry_after_s: int) -> RegistryFreshness:
        """Build with the bound from the environment."""
        return cls(registry, FreshnessSettings().registry_max_staleness_s, retry_after_s)

    def check(self) -> None:
        """Raise a 503 Rejection if the copy is older than the bound."""
        if self._stale is not None and self._stale(self.max_staleness_s):
            raise Rejection(
                503,
                "registry_stale",
                "Registry copy is stale",
                f"the gateway's copy of the registry has not been confirmed current for "
                f"{self.max_staleness_s:g}s; credentials cannot be trusted, retry later",
                headers={"Retry-After": self._retry_after},
            )
