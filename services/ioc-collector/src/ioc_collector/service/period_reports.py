"""The scorecard and the periodic report, read from the merged state of every partition."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ioc_collector.api.models import PeriodStatus, TargetSpec
from ioc_collector.api.report_models import (
    GroupTally,
    PeriodInfo,
    PeriodReport,
    ReportPoint,
    ReportRow,
    ScorecardItem,
    ScorecardView,
    Tally,
)
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.period_values import (
    PeriodValue,
    latest_period,
    period_value,
    target_period_kind,
)
from ioc_collector.domain.periods import Period
from ioc_collector.domain.scorecard import GROUP_TITLES, GROUPS, Assessed, scorecard
from ioc_collector.domain.scorecard import Tally as DomainTally
from ioc_collector.domain.state import AggregationState

CHART_POINTS = {"month": 12, "quarter": 8, "year": 5}


def target_view(kpi: KpiDefinition) -> TargetSpec | None:
    """Return a KPI's target with its period and group, as reports show it."""
    if kpi.target is None:
        return None
    return TargetSpec.model_validate(kpi.target.model_dump())


def period_status(
    state: AggregationState, kpi: KpiDefinition, now: datetime, period: Period | None = None
) -> PeriodStatus:
    """Return the KPI's value and status over `period`, by default its target's latest period."""
    chosen = period or latest_period(state, kpi, target_period_kind(kpi), now)
    found = period_value(state, kpi, chosen)
    return PeriodStatus(
        period=chosen.id,
        kind=chosen.kind,
        start=chosen.start,
        end=chosen.end,
        value=found.value,
        closed=found.closed,
        status=found.status,
    )


def _tally(tally: DomainTally) -> Tally:
    return Tally(met=tally.met, total=tally.total, not_met=list(tally.not_met))


def scorecard_view(
    state: AggregationState, kpis: Sequence[KpiDefinition], now: datetime, period: Period | None
) -> ScorecardView:
    """Assess every target over its own latest period (or all over `period`) and tally them."""
    items = []
    for kpi in kpis:
        target = target_view(kpi)
        if target is None:
            continue
        found = period_status(state, kpi, now, period)
        items.append(
            ScorecardItem(
                kpi_id=kpi.id, title_vi=kpi.title_vi, title_en=kpi.title_en,
                group=target.group, period=found.period, value=found.value, target=target,
                status=found.status,
            )
        )  # fmt: skip
    card = scorecard(Assessed(i.kpi_id, i.group, i.status) for i in items)
    groups = [
        GroupTally(
            group=group,
            title_vi=GROUP_TITLES[group][0],
            title_en=GROUP_TITLES[group][1],
            **_tally(card.groups[group]).model_dump(),
        )
        for group in GROUPS
    ]
    return ScorecardView(generated_at=now, overall=_tally(card.overall), groups=groups, items=items)


def _change(value: float | None, previous: float | None) -> tuple[float | None, float | None]:
    if value is None or previous is None:
        return None, None
    change = value - previous
    return change, (change * 100 / previous if previous else None)


def report_row(state: AggregationState, kpi: KpiDefinition, period: Period) -> ReportRow:
    """Return one KPI's line of the report: value, target, status, change and chart points."""
    found: PeriodValue = period_value(state, kpi, period)
    chart = [
        ReportPoint(period=p.id, value=period_value(state, kpi, p).value)
        for p in (period.shifted(-n) for n in range(CHART_POINTS[period.kind] - 1, 0, -1))
    ]
    previous = chart[-1].value if chart else None
    chart.append(ReportPoint(period=period.id, value=found.value))
    change, change_percent = _change(found.value, previous)
    return ReportRow(
        kpi_id=kpi.id, title_vi=kpi.title_vi, title_en=kpi.title_en, unit=kpi.unit,
        window=kpi.window, value=found.value, target=target_view(kpi), status=found.status,
        previous_value=previous, change=change, change_percent=change_percent,
        windows_with_data=found.windows_with_data, closed=found.closed, chart=chart,
    )  # fmt: skip


def period_info(period: Period) -> PeriodInfo:
    """Return the period as the API shows it."""
    return PeriodInfo(
        id=period.id, kind=period.kind, label_vi=period.label_vi, label_en=period.label_en,
        start=period.start, end=period.end,
    )  # fmt: skip


class PeriodReports:
    """Builds the scorecard and periodic reports over the current KPIs and merged state."""

    def __init__(
        self,
        kpis: Callable[[], Sequence[KpiDefinition]],
        state: Callable[[], AggregationState],
    ) -> None:
        self._kpis = kpis
        self._state = state

    def scorecard(self, now: datetime, period: Period | None = None) -> ScorecardView:
        """Return targets met out of targets set, per group and overall."""
        return scorecard_view(self._state(), self._kpis(), now, period)

    def report(self, period: Period, now: datetime) -> PeriodReport:
        """Return the report for `period`: every KPI, and the targets assessed over it."""
        state, kpis = self._state(), self._kpis()
        return PeriodReport(
            generated_at=now,
            period=period_info(period),
            previous_period=period.previous().id,
            scorecard=scorecard_view(state, kpis, now, period),
            kpis=[report_row(state, kpi, period) for kpi in kpis],
        )
