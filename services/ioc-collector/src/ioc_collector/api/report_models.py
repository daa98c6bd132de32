"""The answers of GET /v1/scorecard and GET /v1/reports/{period}."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ioc_collector.api.models import Group, TargetSpec

Status = Literal["met", "not_met", "no_data", "no_target"]


class PeriodInfo(BaseModel):
    """A reporting period: a month, a quarter or a year in Asia/Ho_Chi_Minh."""

    id: str = Field(description="2026-11, 2026-Q4 or 2026")
    kind: Literal["month", "quarter", "year"]
    label_vi: str
    label_en: str
    start: datetime
    end: datetime


class Tally(BaseModel):
    """Targets met out of targets set."""

    met: int
    total: int
    not_met: list[str] = Field(description="KPIs whose target is not met (or has no data)")


class GroupTally(Tally):
    """One pillar of the province's digital-transformation targets."""

    group: Group
    title_vi: str
    title_en: str


class ScorecardItem(BaseModel):
    """One KPI with a target, assessed over its target's period."""

    kpi_id: str
    title_vi: str
    title_en: str
    group: Group | None
    period: str
    value: float | None
    target: TargetSpec
    status: Status


class ScorecardView(BaseModel):
    """Targets met out of targets set, overall and per group (chỉ tiêu đạt / chỉ tiêu đặt ra)."""

    generated_at: datetime
    overall: Tally
    groups: list[GroupTally]
    items: list[ScorecardItem]


class ReportPoint(BaseModel):
    """A KPI's value over one period of the report's chart."""

    period: str
    value: float | None


class ReportRow(BaseModel):
    """One KPI in the report: value over the period, target, status, change, small chart."""

    kpi_id: str
    title_vi: str
    title_en: str
    unit: str
    window: str = Field(description="The KPI's own window the period value is built from")
    value: float | None = Field(description="None: no data (không có dữ liệu) for the period")
    target: TargetSpec | None
    status: Status
    previous_value: float | None = Field(description="The value over the previous period")
    change: float | None = Field(description="value - previous_value (percentage points for %)")
    change_percent: float | None = Field(description="change relative to previous_value, in %")
    windows_with_data: int
    closed: bool = Field(description="Every window of the period is final")
    chart: list[ReportPoint] = Field(description="This period and the ones before, oldest first")


class PeriodReport(BaseModel):
    """The Steering Committee's periodic report (báo cáo định kỳ) for one period."""

    generated_at: datetime
    period: PeriodInfo
    previous_period: str
    scorecard: ScorecardView = Field(description="The targets assessed over this period")
    kpis: list[ReportRow]
