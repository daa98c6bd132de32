"""What every handler needs: the store and the rules fixed at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from lgsp_registry.adapters.store import Store
from lgsp_registry.domain.compatibility import CompatibilityMode, CompatibilityPolicy


@dataclass(frozen=True)
class Context:
    """Handlers' dependencies, built once in the composition root."""

    store: Store
    operator_token: str
    default_compatibility: CompatibilityMode = CompatibilityMode.BACKWARD
    default_policy: CompatibilityPolicy = CompatibilityPolicy.STRICT
    require_examples: bool = True
    key_grace_period_s: int = 86_400
