"""Settings of the population-adapter service (env prefix POPULATION_ADAPTER_)."""

from __future__ import annotations

import os
import secrets
import socket

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings
from lgsp_common.topics import AUDIT_TOPIC, REGISTRY_TOPIC

VERIFICATION_TOPIC = "population.verification.v1"
# The resource a registry consumer names as its `topic` to read the national population data.
POPULATION_RESOURCE = "population.citizen.v1"


def _default_writer() -> str:
    # One chain per process start: a restarted instance must not continue (and fork) an old one.
    return f"population-adapter/{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class AdapterSettings(ServiceSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="POPULATION_ADAPTER_", extra="ignore")

    port: int = 8083
    fast_lane: bool = Field(
        default=True, description="Serve /v1/verify and /v1/lookup without FastAPI's routing."
    )
    upstream_url: str = Field(
        default="http://127.0.0.1:8093", description="The national population database (simulated)."
    )
    upstream_timeout_s: float = Field(default=1.0, gt=0, description="Per-attempt timeout.")
    upstream_deadline_s: float = Field(
        default=3.0, gt=0, description="Longest time one request may spend on the upstream."
    )
    upstream_attempts: int = Field(default=3, ge=1, description="Attempts per read, retries incl.")
    retry_backoff_s: float = Field(default=0.05, gt=0, description="First backoff (jittered).")
    retry_backoff_max_s: float = Field(default=0.5, gt=0, description="Longest backoff.")
    max_concurrency: int = Field(
        default=16, ge=1, description="Upstream calls in flight at most (= its connection pool)."
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failed calls that open the circuit."
    )
    breaker_reset_s: float = Field(
        default=10.0, gt=0, description="How long the circuit stays open before one probe."
    )
    cache_ttl_s: float = Field(default=60.0, ge=0, description="Longest a record is served.")
    cache_max_entries: int = Field(default=100_000, ge=1)
    producer_linger_ms: int = Field(
        default=0,
        ge=0,
        description="Linger of the producer of audit records and verification events: each "
        "answer waits for both acks, and the records of concurrent calls still share a request "
        "while one is in flight.",
    )
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After when the upstream fails.")
    gateway_token: SecretStr = Field(
        default=SecretStr("lgsp-local-gateway-token"),
        description="Shared secret the gateway sends as X-LGSP-Gateway-Token.",
    )
    audit_key: SecretStr = Field(
        default=SecretStr("lgsp-local-audit-key-not-a-secret"),
        description="HMAC-SHA256 key signing the audit chain.",
    )
    audit_key_id: str = "population-adapter-local"
    audit_group_max: int = Field(
        default=256,
        ge=1,
        description="Most calls one audit record covers: the calls answered in one turn of the "
        "event loop share one signed record (1: a record per call).",
    )
    audit_writer: str = Field(default_factory=_default_writer)
    audit_topic: str = AUDIT_TOPIC
    verification_topic: str = VERIFICATION_TOPIC
    registry_topic: str = REGISTRY_TOPIC
    consumer_resource: str = Field(
        default=POPULATION_RESOURCE,
        description="The `topic` a registry consumer must name to use the adapter.",
    )
    registry_startup_timeout_s: float = Field(default=30.0, gt=0)
    event_source: str = Field(
        default="/sources/cat-xac-thuc-dan-cu",
        description="CloudEvents source of verification events: the registered source.",
    )
