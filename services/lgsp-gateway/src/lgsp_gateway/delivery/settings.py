"""Settings of the webhook delivery workers (env prefix LGSP_WEBHOOKS_)."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings
from lgsp_common.topics import AUDIT_TOPIC, REGISTRY_TOPIC, WEBHOOKS_DLQ_TOPIC


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class WebhookSettings(ServiceSettings):
    """Everything a delivery worker reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LGSP_WEBHOOKS_", extra="ignore")

    port: int = 8084
    instance_id: str = Field(default_factory=_instance_id, description="Names the audit chain.")
    registry_topic: str = REGISTRY_TOPIC
    audit_topic: str = AUDIT_TOPIC
    dlq_topic: str = WEBHOOKS_DLQ_TOPIC
    audit_key_id: str = "webhooks-local"
    audit_key: SecretStr = Field(
        default=SecretStr("change-me-local-audit-key"),
        description="HMAC-SHA256 key signing this worker's audit records.",
    )
    secrets_key: SecretStr = Field(
        default=SecretStr("lgsp-local-webhook-secrets-key-change-me"),
        min_length=16,
        validation_alias=AliasChoices("LGSP_WEBHOOK_SECRETS_KEY", "secrets_key"),
        description="Key that opens the sealed signing secrets (the registry's key).",
    )
    allow_loopback: bool = Field(
        default=False, description="Deliver to loopback addresses (local runs and tests only)."
    )
    max_attempts: int = Field(default=8, ge=1, description="Attempts before a dead letter.")
    backoff_base_s: float = Field(default=0.5, gt=0, description="First retry delay.")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    max_retry_after_s: float = Field(
        default=600.0, gt=0, description="Longest wait a Retry-After may impose."
    )
    request_timeout_s: float = Field(default=10.0, gt=0, description="Per delivery attempt.")
    concurrency_per_partition: int = Field(
        default=16, ge=1, description="Records of different keys in flight per partition."
    )
    max_batch: int = Field(default=500, ge=1, description="Most records taken in one poll.")
    start_from: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new subscription starts."
    )
    session_timeout_s: float = Field(
        default=10.0, ge=6, description="How soon a dead worker's partitions move to another."
    )
    registry_startup_timeout_s: float = Field(default=30.0, gt=0)
    produce_timeout_s: float = Field(default=10.0, gt=0, description="Wait for DLQ/audit acks.")
