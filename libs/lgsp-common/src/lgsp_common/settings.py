"""Settings base shared by every service (pydantic-settings, one env prefix per service)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
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


# Secrets published in this repository's docs and examples; never acceptable beyond loopback.
SAMPLE_SECRETS = frozenset({"example-audit-key-not-a-secret"})
_SAMPLE_MARKS = ("change-me", "changeme", "not-a-secret")
ALLOW_SAMPLE_SECRETS = "LGSP_ALLOW_SAMPLE_SECRETS"


class SampleSecretError(RuntimeError):
    """A service would listen beyond loopback with a default or sample secret."""


def is_loopback(host: str) -> bool:
    """Tell whether a bind address is reachable only from this machine (unknown names: no)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _is_sample(value: SecretStr, default: object) -> bool:
    text = value.get_secret_value()
    if isinstance(default, SecretStr) and text == default.get_secret_value():
        return True
    return text in SAMPLE_SECRETS or any(mark in text.lower() for mark in _SAMPLE_MARKS)


def sample_secrets(settings: BaseSettings) -> list[str]:
    """Return the environment variables whose secret is still its default or a known sample."""
    variables = {path: name for name, path in env_variables(type(settings)).items()}
    return [variables.get(path, "__".join(path).upper()) for path in _sample_paths(settings)]


def _sample_paths(settings: BaseSettings, at: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, BaseSettings):
            found += _sample_paths(value, (*at, name))
        elif isinstance(value, SecretStr) and _is_sample(value, info.default):
            found.append((*at, name))
    return found


def refuse_sample_secrets(settings: ServiceSettings, service: str) -> None:
    """Refuse to serve beyond loopback with a default or sample secret, naming each setting.

    `LGSP_ALLOW_SAMPLE_SECRETS=true` lifts the refusal (a local container demo only).
    """
    if is_loopback(settings.host):
        return
    found = sample_secrets(settings)
    if not found or os.environ.get(ALLOW_SAMPLE_SECRETS, "").lower() in ("1", "true", "yes"):
        return
    raise SampleSecretError(
        f"{service} refuses to listen on {settings.host} with a default or sample secret in "
        f"{', '.join(found)}: set {'each' if len(found) > 1 else 'it'} to a real secret "
        f"(or bind 127.0.0.1)"
    )
