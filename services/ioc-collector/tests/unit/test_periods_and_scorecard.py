"""Reporting periods, a KPI's value over a period, target status and the scorecard."""

from __future__ import annotations

from datetime import datetime

import pytest

from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.period_values import latest_period, period_value, status_of
from ioc_collector.domain.periods import Period, PeriodError, parse_period, period_containing
from ioc_collector.domain.scorecard import Assessed, scorecard
from ioc_collector.domain.state import (
    AggregationState,
    Cell,
    ClosedWindow,
    KpiState,
    OpenWindow,
    Part,
)
from ioc_collector.domain.windows import window_for

RATE = parse_definition(
    "rate.yaml",
    """
id: online-rate
title_vi: Tỷ lệ trực tuyến
title_en: Online rate
topic: tthc.dossier.v1
measure:
  kind: ratio
  numerator: {kind: count}
  denominator: {kind: count}
window: day
target: {value: 40, direction: gte, period: year, group: digital_government}
unit: "%"
""",
)
COUNT = parse_definition(
    "count.yaml",
    """
id: visits
title_vi: Lượt khám
title_en: Visits
topic: health.medical-visit.v1
measure: {kind: count}
window: month
unit: visits
""",
)


@pytest.mark.parametrize(
    ("text", "expected", "start", "end"),
    [
        ("2026-11", "2026-11", datetime(2026, 11, 1), datetime(2026, 12, 1)),
        ("2026-12", "2026-12", datetime(2026, 12, 1), datetime(2027, 1, 1)),
        ("2026-Q4", "2026-Q4", datetime(2026, 10, 1), datetime(2027, 1, 1)),
        ("2026-Q1", "2026-Q1", datetime(2026, 1, 1), datetime(2026, 4, 1)),
        ("2026", "2026", datetime(2026, 1, 1), datetime(2027, 1, 1)),
    ],
)
def test_a_period_parses_into_local_bounds(
    text: str, expected: str, start: datetime, end: datetime
) -> None:
    period = parse_period(text)
    assert period.id == expected
    assert period.start == start.replace(tzinfo=LOCAL_TZ)
    assert period.end == end.replace(tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-11", "2026-1", "november", "", "1999"]
)
def test_a_bad_period_is_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(PeriodError, match="period"):
        parse_period(text)


def test_periods_step_back_across_years_and_carry_labels() -> None:
    assert parse_period("2026-01").previous().id == "2025-12"
    assert parse_period("2026-Q1").previous().id == "2025-Q4"
    assert parse_period("2026").previous().id == "2025"
    assert parse_period("2026-11").label_vi == "Tháng 11/2026"
    assert parse_period("2026-11").label_en == "November 2026"
    assert parse_period("2026-Q4").label_vi == "Quý 4/2026"
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=LOCAL_TZ)
    assert period_containing(moment, "quarter") == Period(2026, 10, "quarter")
    assert period_containing(moment.astimezone(LOCAL_TZ), "month").id == "2026-12"


def _day(day: datetime) -> str:
    return window_for(day.replace(tzinfo=LOCAL_TZ), "day").key


def _ratio(num: int, den: int) -> Cell:
    return Cell(numerator=Part(count=num), denominator=Part(count=den))


def rate_state() -> AggregationState:
    """Online rate: Oct 10/100 (one day), Nov 30/50 + 20/50 (two days, one open), Dec none."""
    closed = {
        _day(datetime(2026, 10, 5)): ClosedWindow(cells={"[]": _ratio(10, 100)}),
        _day(datetime(2026, 11, 2)): ClosedWindow(cells={"[]": _ratio(30, 50)}),
    }
    opened = {_day(datetime(2026, 11, 30)): OpenWindow(cells={"[]": _ratio(20, 50)})}
    kpi = KpiState(closed_windows=closed, open_windows=opened)
    return AggregationState(kpis={RATE.id: kpi})


def test_a_period_value_is_the_measure_over_its_windows_merged() -> None:
    state = rate_state()
    november = period_value(state, RATE, parse_period("2026-11"))
    assert november.value == pytest.approx(50.0)  # (30 + 20) / (50 + 50), not a mean of days
    assert november.windows_with_data == 2
    assert november.closed is False  # one of its windows is still open
    assert november.status == "met"
    october = period_value(state, RATE, parse_period("2026-10"))
    assert (october.value, october.status) == (pytest.approx(10.0), "not_met")
    quarter = period_value(state, RATE, parse_period("2026-Q4"))
    assert quarter.value == pytest.approx(60 * 100 / 200)
    december = period_value(state, RATE, parse_period("2026-12"))
    assert (december.value, december.status, december.windows_with_data) == (None, "no_data", 0)


def test_a_month_window_kpi_reports_its_month_window_exactly() -> None:
    key = window_for(datetime(2026, 11, 1, tzinfo=LOCAL_TZ), "month").key
    cells = {"[]": Cell(main=Part(count=7))}
    kpi_state = KpiState(closed_windows={key: ClosedWindow(cells=cells)})
    state = AggregationState(kpis={COUNT.id: kpi_state})
    found = period_value(state, COUNT, parse_period("2026-11"))
    assert (found.value, found.status, found.closed) == (7.0, "no_target", False)
    assert period_value(state, COUNT, parse_period("2026")).value == 7.0


def test_the_latest_period_is_the_one_holding_the_newest_data() -> None:
    now = datetime(2027, 3, 1, tzinfo=LOCAL_TZ)
    assert latest_period(rate_state(), RATE, "year", now).id == "2026"
    assert latest_period(rate_state(), RATE, "month", now).id == "2026-11"
    assert latest_period(AggregationState(), RATE, "month", now).id == "2027-03"


@pytest.mark.parametrize(
    ("kpi", "value", "expected"),
    [
        (RATE, 40.0, "met"),
        (RATE, 39.99, "not_met"),
        (RATE, None, "no_data"),
        (COUNT, 5.0, "no_target"),
        (COUNT, None, "no_target"),
    ],
)
def test_status_against_the_target(kpi: KpiDefinition, value: float | None, expected: str) -> None:
    assert status_of(kpi, value) == expected


def test_a_lte_target_is_met_at_or_below_the_threshold() -> None:
    lower = RATE.model_copy(
        update={"target": RATE.target.model_copy(update={"direction": "lte"})}  # type: ignore[union-attr]
    )
    assert status_of(lower, 40.0) == "met"
    assert status_of(lower, 41.0) == "not_met"


def test_the_scorecard_counts_targets_met_out_of_targets_set_per_group() -> None:
    card = scorecard(
        [
            Assessed("a", "digital_government", "met"),
            Assessed("b", "digital_government", "not_met"),
            Assessed("c", "digital_government", "no_data"),
            Assessed("d", "digital_economy", "met"),
            Assessed("e", None, "met"),
            Assessed("f", None, "no_target"),
        ]
    )
    assert (card.overall.met, card.overall.total) == (3, 5)
    assert card.overall.not_met == ("b", "c")
    government = card.groups["digital_government"]
    assert (government.met, government.total, government.not_met) == (1, 3, ("b", "c"))
    assert (card.groups["digital_economy"].met, card.groups["digital_economy"].total) == (1, 1)
    assert (card.groups["digital_society"].met, card.groups["digital_society"].total) == (0, 0)
