"""Settings of the simulated national population database (env prefix POPULATION_UPSTREAM_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lgsp_common.settings import repo_root

DEFAULT_SEED = 6
DEFAULT_COUNT = 100_000


def default_db_path() -> Path:
    """Return where the population database lives by default (var/ of the checkout)."""
    return repo_root() / "var" / "population" / "citizens.sqlite"


class UpstreamSettings(BaseSettings):
    """Everything the simulated upstream reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="POPULATION_UPSTREAM_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8093
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    db_path: Path = Field(default_factory=default_db_path)
    build_if_missing: bool = Field(
        default=True, description="Generate the population at start-up when the file is absent."
    )
    seed: int = DEFAULT_SEED
    count: int = Field(default=DEFAULT_COUNT, ge=0)
    latency_ms: float = Field(default=0.0, ge=0, description="Added to every citizen read.")
    latency_jitter_ms: float = Field(default=0.0, ge=0, description="Uniform extra latency.")
    failure_rate: float = Field(default=0.0, ge=0, le=1, description="Share answered 503.")
