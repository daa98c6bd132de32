"""Gateway settings (env prefix LGSP_GATEWAY_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LGSP_GATEWAY_", extra="ignore")

    port: int = 8080
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest accepted body.")
    produce_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for the broker's ack before answering 503."
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with 503 answers.")
