"""Collector settings (env prefix IOC_COLLECTOR_)."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from ioc_collector.domain.activity import Cadence, Thresholds
from ioc_collector.domain.definitions import Duration
from lgsp_common.settings import ServiceSettings, repo_root

SERVICE = "ioc-collector"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class CadenceThreshold(BaseModel):
    """Silence before a source of one cadence is LATE, then SILENT (ISO 8601 or seconds)."""

    model_config = ConfigDict(extra="forbid")

    late: Duration
    silent: Duration

    def limits(self) -> Thresholds:
        """Return the domain's thresholds."""
        return Thresholds(self.late, self.silent)


DEFAULT_THRESHOLDS: dict[Cadence, CadenceThreshold] = {
    "realtime": CadenceThreshold(late=timedelta(minutes=5), silent=timedelta(minutes=15)),
    "daily": CadenceThreshold(late=timedelta(hours=26), silent=timedelta(hours=50)),
    "monthly": CadenceThreshold(late=timedelta(days=35), silent=timedelta(days=70)),
}


class OidcSettings(BaseModel):
    """Where OIDC bearer tokens come from; all three of issuer, audience, JWKS URL, or none."""

    model_config = ConfigDict(extra="forbid")

    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None
    role_claim: str = Field(
        default="roles", description='Claim holding the roles; dotted for nesting, e.g. '
        '"realm_access.roles". Values viewer, operator or auditor let the holder in.'
    )  # fmt: skip
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    leeway_s: float = Field(default=0.0, ge=0, description="Clock skew allowed on exp/nbf.")

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        given = [self.issuer, self.audience, self.jwks_url]
        if any(given) and not all(given):
            raise ValueError("OIDC needs issuer, audience and jwks_url together")
        return self

    @property
    def enabled(self) -> bool:
        """Tell whether an issuer is configured."""
        return self.issuer is not None


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CollectorSettings(ServiceSettings):
    """Everything the collector reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="IOC_COLLECTOR_", extra="ignore")

    port: int = 8082
    instance_id: str = Field(default_factory=_instance_id, description="Names this replica.")
    group_id: str = "ioc-collector"
    topics: list[str] = Field(
        default_factory=list,
        description="Topics to consume, exactly; empty means the topics of the active sources "
        "in the registry, followed live.",
    )
    kpis_dir: Path = Field(
        default=PACKAGE_ROOT / "kpis", description="Folder of KPI definitions (*.yaml)."
    )
    store_path: Path = Field(
        default_factory=lambda: repo_root() / "var" / "ioc-collector" / "collector.sqlite3",
        description="SQLite file holding KPI state and consumed positions when `store_url` is "
        "not set; replicas on one machine may share it (WAL), keyed by consumer group.",
    )
    store_url: str | None = Field(
        default=None,
        description="Database of KPI state and consumed positions, as a SQLAlchemy URL: "
        "`postgresql+asyncpg://user:pass@host/db` for replicas on several machines, or "
        "`sqlite+aiosqlite:///path`; unset: the SQLite file `store_path`.",
    )
    registry_topic: str = "lgsp.registry"
    dlq_topic: str = "lgsp.dlq"
    kpi_topic: str = Field(default="ioc.kpi", description="Compacted topic of KPI snapshots.")
    max_batch: int = Field(default=2000, gt=0, description="Most records taken per poll.")
    commit_interval_ms: int = Field(
        default=1000,
        ge=0,
        description="Longest time applied records wait before their state and positions are "
        "committed in one transaction; 0 commits after every poll. Reads never wait for it; "
        "a crash replays at most this much; each commit rewrites the changed partitions' state.",
    )
    poll_timeout_ms: int = Field(default=200, gt=0)
    backfill_max_batch: int = Field(
        default=5000, gt=0, description="Most records a backfill applies in one step."
    )
    tick_interval_s: float = Field(
        default=1.0, gt=0, description="How often health, the live stream and snapshots refresh."
    )
    lag_interval_s: float = Field(default=5.0, gt=0, description="How often lag is measured.")
    session_timeout_ms: int = Field(default=10_000, ge=6_000)
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    registry_startup_timeout_s: float = Field(default=30.0, gt=0)
    health_thresholds: dict[Cadence, CadenceThreshold] = Field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS),
        description='Per cadence, e.g. {"realtime": {"late": "PT5M", "silent": "PT15M"}}; '
        "cadences left out keep their defaults.",
    )

    oidc: OidcSettings = Field(
        default_factory=OidcSettings,
        description="An OpenID Connect issuer whose bearer tokens also sign viewers in "
        "(IOC_COLLECTOR_OIDC__ISSUER, __AUDIENCE, __JWKS_URL, __ROLE_CLAIM); off when unset.",
    )

    @field_validator("health_thresholds", mode="before")
    @classmethod
    def _keep_defaults(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {**DEFAULT_THRESHOLDS, **value}
        return value

    def store_database_url(self) -> str:
        """Return the state store's URL: `store_url`, else the SQLite file `store_path`."""
        return self.store_url or f"sqlite+aiosqlite:///{self.store_path}"

    def thresholds(self, cadence: str | None) -> Thresholds:
        """Return the thresholds of a cadence (unknown cadences are treated as realtime)."""
        chosen = self.health_thresholds.get(cadence or "realtime")  # type: ignore[call-overload]
        return (chosen or self.health_thresholds["realtime"]).limits()
