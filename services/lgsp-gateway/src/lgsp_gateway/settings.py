"""Gateway settings (env prefix LGSP_GATEWAY_)."""

from __future__ import annotations

import os
import socket

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings, is_loopback


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LGSP_GATEWAY_", extra="ignore")

    port: int = 8080
    fast_lane: bool = Field(
        default=True, description="Serve single-event publishes without FastAPI's routing."
    )
    workers: int = Field(default=1, ge=1, description="Worker processes sharing the port.")
    instance_id: str = Field(
        default_factory=_instance_id, description="Names this replica's audit chain."
    )
    registry_topic: str = "lgsp.registry"
    dlq_topic: str = "lgsp.dlq"
    audit_topic: str = "lgsp.audit"
    audit_key_id: str = "gateway-local"
    audit_key: SecretStr = Field(
        default=SecretStr("change-me-local-audit-key"),
        description="HMAC-SHA256 key signing this gateway's audit records.",
    )
    audit_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for an audit record's ack before the call is answered 503.",
    )
    audit_max_pending: int = Field(
        default=10_000,
        ge=1,
        description="Audit records awaiting their ack at most; beyond, calls are answered 503.",
    )
    audit_linger_ms: int = Field(
        default=0,
        ge=0,
        description="Linger of the gateway's own audit producer (records of concurrent calls "
        "still batch while a request is in flight).",
    )
    audit_group_max: int = Field(
        default=256,
        ge=1,
        description="Most calls one audit record covers: the calls answered in one turn of the "
        "event loop share one signed record (1: a record per call).",
    )
    audit_wait: bool = Field(
        default=True,
        description="Answer a publish only once its audit record is acknowledged. false ONLY to "
        "measure the audit's cost (bench/gateway_bench.py): the record is still written and "
        "tracked, the answer does not wait for it. Refused beyond loopback.",
    )
    shutdown_audit_wait_s: float = Field(
        default=15.0,
        ge=0,
        description="How long shutdown waits for audit records still in flight; the rest are "
        "counted (gateway_audit_records_abandoned) and logged.",
    )
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest accepted body.")
    max_batch_events: int = Field(default=1000, gt=0, description="Most events in one batch.")
    rate_limit_per_source: float = Field(
        default=2000.0, gt=0, description="Events per second one source may publish, cluster-wide."
    )
    rate_limit_burst: float = Field(default=4000.0, gt=0, description="Bucket size per source.")
    replicas: int = Field(
        default=1,
        ge=1,
        description="Replicas assumed until the membership group gives the live count (always, "
        "with REPLICA_MEMBERSHIP off); each replica enforces 1/replicas of the limit.",
    )
    replica_membership: bool = Field(
        default=True,
        description="Learn the live replica count from a Kafka consumer group every replica "
        "joins, and divide the limits by it.",
    )
    replica_group: str = Field(
        default="",
        description="The membership group; empty: lgsp-gateway-replicas.<REGISTRY_TOPIC>.",
    )
    replica_topic: str = Field(
        default="lgsp.gateway.replicas",
        description="The membership group's topic (one partition, created if missing, empty).",
    )
    replica_wait_s: float = Field(
        default=15.0,
        ge=0,
        description="How long start-up waits for the group's first count before serving with "
        "REPLICAS.",
    )
    produce_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for the broker's ack before answering 503."
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with 503 answers.")
    registry_startup_timeout_s: float = Field(
        default=30.0, gt=0, description="How long start-up waits to read the registry copy."
    )
    population_adapter_url: str = Field(
        default="http://127.0.0.1:8083", description="The population adapter the gateway fronts."
    )
    population_adapter_token: SecretStr = Field(
        default=SecretStr("lgsp-local-gateway-token"),
        description="Shared secret proving to the adapter that a call comes from the gateway.",
    )
    population_resource: str = Field(
        default="population.citizen.v1",
        description="The `topic` a registry consumer names to read population data.",
    )
    population_timeout_s: float = Field(default=5.0, gt=0)
    cursor_key: SecretStr = Field(
        default=SecretStr("change-me-local-cursor-key"),
        description="HMAC-SHA256 key signing read cursors; the same on every replica.",
    )
    reader_pool_size: int = Field(
        default=2, ge=1, le=32, description="Pooled Kafka readers per topic on this replica."
    )

    @model_validator(mode="after")
    def _audit_wait_only_on_loopback(self) -> GatewaySettings:
        if not self.audit_wait and not is_loopback(self.host):
            raise ValueError(
                f"LGSP_GATEWAY_AUDIT_WAIT=false is for measuring the audit's cost on loopback "
                f"only; the gateway would listen on {self.host}: remove the setting"
            )
        return self
