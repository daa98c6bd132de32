"""KPIs as registry entities: the definition as pushed, with its topic, version and status.

The definition is kept as the JSON the integrator pushed (the format of
`contracts/meta/kpi-definition.schema.json`); `lgsp.registry` carries a `kpi` change event whose
data is this entity, so every collector replica loads a new or changed KPI live.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from lgsp_registry.domain.entities import Entity


class KpiStatus(StrEnum):
    """Whether collectors compute the KPI (a deleted KPI is removed, with a tombstone)."""

    ACTIVE = "active"


class Kpi(Entity):
    """A registered KPI definition."""

    id: str
    topic: str
    version: int = Field(description="+1 on every change of the definition")
    status: KpiStatus
    definition: dict[str, Any] = Field(description="The definition as pushed (KPI format)")
    created_at: datetime
    updated_at: datetime


class KpiCheck(Entity):
    """The dry-run verdict on a KPI definition: it would be accepted, against this contract."""

    id: str
    topic: str
    valid: bool
    contract_version: int = Field(description="The topic's latest contract version checked")
    fields: list[str] = Field(description="Payload fields the KPI reads (JSON Pointers)")
    registered_version: int | None = Field(
        default=None, description="Set when this exact definition is already registered"
    )
