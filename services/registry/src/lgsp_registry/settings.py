"""Settings of the lgsp-registry service (env prefix LGSP_REGISTRY_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LGSP_REGISTRY_", extra="ignore")

    port: int = 8081
