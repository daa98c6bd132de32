"""Collector settings (env prefix IOC_COLLECTOR_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lgsp_common.settings import ServiceSettings


class CollectorSettings(ServiceSettings):
    """Everything the collector reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="IOC_COLLECTOR_", extra="ignore")

    port: int = 8082
    group_id: str = "ioc-collector"
    topics: list[str] = Field(
        default_factory=list,
        description="Topics to consume; empty means every data topic in the contracts folder.",
    )
    max_batch: int = Field(default=500, gt=0, description="Records taken per poll.")
