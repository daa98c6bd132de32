"""What every handler needs: the store and the rules fixed at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from lgsp_common.webhooks import SecretBox
from lgsp_registry.adapters.store import Store
from lgsp_registry.adapters.traffic import TrafficProbe
from lgsp_registry.domain.compatibility import CompatibilityMode, CompatibilityPolicy

LOCAL_SECRETS_KEY = "lgsp-local-webhook-secrets-key-change-me"


@dataclass(frozen=True)
class Context:
    """Handlers' dependencies, built once in the composition root."""

    store: Store
    operator_token: str
    default_compatibility: CompatibilityMode = CompatibilityMode.BACKWARD
    default_policy: CompatibilityPolicy = CompatibilityPolicy.STRICT
    require_examples: bool = True
    key_grace_period_s: int = 86_400
    secret_box: SecretBox = field(default_factory=lambda: SecretBox(LOCAL_SECRETS_KEY))
    webhooks_allow_loopback: bool = False
    webhook_secret_overlap_s: int = 86_400
    deletion_grace_period_s: int = 7 * 86_400
    traffic: TrafficProbe | None = None  # None: no traffic guard on deleting a source
