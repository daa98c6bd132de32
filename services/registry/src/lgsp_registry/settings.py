"""Settings of the lgsp-registry service (env prefix LGSP_REGISTRY_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings, repo_root
from lgsp_common.topics import AUDIT_CHECKPOINTS_TOPIC, AUDIT_TOPIC, REGISTRY_TOPIC
from lgsp_registry.domain.compatibility import CompatibilityMode, CompatibilityPolicy

MIN_OPERATOR_TOKEN = 24


class RegistrySettings(ServiceSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LGSP_REGISTRY_", extra="ignore")

    port: int = 8081
    data_dir: Path = Field(
        default_factory=lambda: repo_root() / "var" / "registry",
        description="Where the SQLite file and the generated operator token live.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://user:pw@host/db; "
        "default: sqlite+aiosqlite in data_dir.",
    )
    registry_topic: str = Field(
        default=REGISTRY_TOPIC, min_length=1, description="Compacted topic of change events."
    )
    operator_token: SecretStr | None = Field(
        default=None,
        description="Administration credential; when unset, one is generated once into "
        "<data_dir>/operator-token (mode 0600) and only that path is logged.",
    )
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest accepted body.")
    max_json_depth: int = Field(
        default=64, ge=8, description="Deepest nesting of arrays/objects accepted in a body."
    )
    default_compatibility: CompatibilityMode = CompatibilityMode.BACKWARD
    default_policy: CompatibilityPolicy = CompatibilityPolicy.STRICT
    require_examples: bool = Field(
        default=True, description="A contract version needs >= 1 valid and >= 1 invalid example."
    )
    key_grace_period_s: int = Field(
        default=86_400, ge=0, description="How long a rotated key keeps working."
    )
    publish_interval_s: float = Field(
        default=0.5, gt=0, description="Longest pause between two looks at the outbox."
    )
    publish_timeout_s: float = Field(
        default=15.0, gt=0, description="Longest wait for Kafka's ack of an outbox batch."
    )
    webhooks_allow_loopback: bool = Field(
        default=False,
        description="Admit http(s)://127.0.0.1… webhook URLs (local runs and tests only).",
    )
    webhook_secrets_key: SecretStr = Field(
        default=SecretStr("lgsp-local-webhook-secrets-key-change-me"),
        min_length=16,
        validation_alias=AliasChoices("LGSP_WEBHOOK_SECRETS_KEY", "webhook_secrets_key"),
        description="Key sealing webhook signing secrets; shared only with the delivery workers.",
    )
    audit_checkpoints_topic: str = Field(
        default=AUDIT_CHECKPOINTS_TOPIC,
        description="Signed audit checkpoints to anchor in the database; empty: not followed.",
    )
    webhook_secret_overlap_s: int = Field(
        default=86_400, ge=0, description="How long a rotated signing secret stays in use."
    )
    audit_topic: str = Field(
        default=AUDIT_TOPIC, description="Where registry changes are audited; empty: not audited."
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key signing the registry's audit chain; when unset, one is generated once "
        "into <data_dir>/audit-key (mode 0600).",
    )
    audit_key_id: str | None = Field(
        default=None, description="Id the audit key is published under; default from the key."
    )
    deletion_grace_period_s: int = Field(
        default=7 * 86_400, ge=0, description="How long a deleted source or consumer is restorable."
    )
    traffic_check_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest look at Kafka for a source's recent traffic."
    )

    def sqlalchemy_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file under data_dir."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.data_dir / 'registry.sqlite3'}"
