"""Settings base shared by every service (pydantic-settings, one env prefix per service)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def repo_root() -> Path:
    """Return the repository root when running from a checkout, else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "contracts").is_dir() and (parent / "services").is_dir():
            return parent
    return Path.cwd()


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster; shared by every service, read without a prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"),
        description="Comma-separated host:port list of the Kafka cluster.",
    )
    request_timeout_ms: int = Field(
        default=15_000,
        validation_alias=AliasChoices("KAFKA_REQUEST_TIMEOUT_MS", "request_timeout_ms"),
    )
    linger_ms: int = Field(
        default=5,
        ge=0,
        validation_alias=AliasChoices("KAFKA_LINGER_MS", "linger_ms"),
        description="How long the producer waits to fill a batch (latency against throughput).",
    )
    replication_factor: int = Field(
        default=1,
        validation_alias=AliasChoices("KAFKA_REPLICATION_FACTOR", "replication_factor"),
        description="Replication factor for topics the platform creates.",
    )
    default_partitions: int = Field(
        default=3,
        validation_alias=AliasChoices("KAFKA_DEFAULT_PARTITIONS", "default_partitions"),
    )


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = 8080
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    kafka_startup_timeout_s: float = Field(
        default=30.0, gt=0, description="How long start-up waits for Kafka before giving up."
    )
    contracts_dir: Path = Field(default_factory=lambda: repo_root() / "contracts")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


def env_variables(settings_class: type[BaseSettings]) -> dict[str, tuple[str, ...]]:
    """Map each environment variable a settings class reads to the attribute path it sets."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    found: dict[str, tuple[str, ...]] = {}
    for name, info in settings_class.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            for variable, path in env_variables(nested).items():
                found[variable] = (name, *path)
            continue
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            found[str(alias.choices[0]).upper()] = (name,)
        else:
            found[f"{prefix}{name}".upper()] = (name,)
    return found
