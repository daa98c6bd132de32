"""The collector's HTTP answers (also the payloads of the live stream)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ioc_collector.domain.activity import HealthState
from ioc_collector.domain.definitions import JsonScalar

Group = Literal["digital_government", "digital_economy", "digital_society"]


class WindowValue(BaseModel):
    """A KPI's value over one window."""

    window_start: datetime
    window_end: datetime
    value: float | None
    closed: bool
    status: Literal["met", "not_met", "no_data", "no_target"]


class TargetView(BaseModel):
    """The Steering Committee's target."""

    value: float
    direction: Literal["gte", "lte"]
    source: str | None = None


class TargetSpec(TargetView):
    """The target with the period it is assessed over and the pillar it counts in."""

    period: Literal["month", "quarter", "year"] = Field(
        default="month", description="The period the target is assessed over"
    )
    group: Group | None = Field(
        default=None, description="The pillar of the province's targets it counts in"
    )


class PeriodStatus(BaseModel):
    """A KPI's value over a reporting period (month, quarter or year) against its target."""

    period: str = Field(description="2026-11, 2026-Q4 or 2026")
    kind: Literal["month", "quarter", "year"]
    start: datetime
    end: datetime
    value: float | None
    closed: bool = Field(description="Every window of the period is final")
    status: Literal["met", "not_met", "no_data", "no_target"]


class BackfillView(BaseModel):
    """Progress of a KPI added at runtime, computed over its topic's history."""

    records_done: int
    records_total: int
    partitions_pending: int
    progress: float = Field(ge=0, le=1)


class KpiTile(BaseModel):
    """One KPI in the catalogue: its latest window vs target, trend and recent history."""

    id: str
    title_vi: str
    title_en: str
    topic: str
    unit: str
    window: str
    dimensions: list[str]
    target: TargetView | None
    current: WindowValue
    previous: WindowValue | None
    trend: Literal["up", "down", "flat"] | None
    history: list[WindowValue]
    status: Literal["met", "not_met", "no_data", "no_target"] = Field(
        description="The target's status over `period` (no_target without a target)"
    )
    period: PeriodStatus = Field(
        description="The value over the target's period (month by default) holding the latest "
        "data, or over the period asked for with ?period="
    )
    group: Group | None = Field(
        default=None, description="The pillar of the province's targets its target counts in"
    )
    late_events: int = Field(description="Events past their window's lateness (not applied)")
    duplicate_events: int
    invalid_events: int
    backfill: BackfillView | None = Field(
        default=None, description="While the KPI is computed over its topic's history"
    )


class SkippedKpi(BaseModel):
    """A registry KPI definition the collector cannot use, and why."""

    id: str
    reason: str


class KpiCatalogue(BaseModel):
    """Every KPI with its current value."""

    generated_at: datetime
    kpis: list[KpiTile]
    skipped: list[SkippedKpi] = Field(
        default_factory=list, description="Registry definitions skipped as unusable"
    )


class KpiSeries(BaseModel):
    """A KPI's values window by window, for the dimension values asked for."""

    kpi_id: str
    title_vi: str
    title_en: str
    window: str
    unit: str
    dims: dict[str, JsonScalar]
    dimension_values: dict[str, list[JsonScalar]]
    current_units: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Today's units the cells' codes map to, value -> Vietnamese name, for the"
        " filters current_unit (commune/ward code, unresolved-split, unknown-code) and"
        " current_province",
    )
    target: TargetView | None
    points: list[WindowValue]


class SourceHealth(BaseModel):
    """Freshness and volume of one data source."""

    id: str
    source: str = Field(description="The CloudEvents source, /sources/<id>")
    name: str | None
    organisation_id: str | None
    topic: str | None
    cadence: str | None
    registered: bool
    source_status: str | None = Field(description="active or suspended, from the registry")
    status: HealthState = Field(
        description="OK, LATE, SILENT against the cadence; NOT_CONSUMED: registered but its "
        "topic not (yet) collected; NOT_EXPECTED: suspended or no longer registered"
    )
    last_event_at: datetime | None = Field(description="When the platform last received one")
    last_event_time: str | None = Field(description="The occurrence time of that event")
    events_total: int
    events_per_minute: float
    rejected: int = Field(description="Events refused by the gateway (lgsp.dlq)")
    lag_records: int | None
    lag_seconds: float | None
    late_after_s: float
    silent_after_s: float


class TopicHealth(BaseModel):
    """Consumption of one topic."""

    topic: str
    partitions: int
    lag_records: int
    lag_seconds: float
    poison: dict[str, int] = Field(description="Records skipped as unusable, by reason")


class HealthReport(BaseModel):
    """Health of every source and consumed topic."""

    generated_at: datetime
    sources: list[SourceHealth]
    topics: list[TopicHealth]
