"""Settings of the population-adapter service (env prefix POPULATION_ADAPTER_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings


class AdapterSettings(ServiceSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="POPULATION_ADAPTER_", extra="ignore")

    port: int = 8083
