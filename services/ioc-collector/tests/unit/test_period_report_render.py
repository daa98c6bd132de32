"""The periodic report built from a state, as JSON, a printable page and an .xlsx read back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest

from ioc_collector.api.report_html import render_html, sparkline
from ioc_collector.api.report_models import ReportPoint
from ioc_collector.domain.definitions import parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.periods import parse_period
from ioc_collector.domain.state import AggregationState, Cell, ClosedWindow, KpiState, Part
from ioc_collector.domain.windows import window_for
from ioc_collector.service.period_reports import PeriodReports
from ioc_collector.service.report_xlsx import NO_DATA, render_xlsx

RATE = parse_definition(
    "rate.yaml",
    """
id: online-rate
title_vi: Tỷ lệ hồ sơ <trực tuyến>
title_en: Online rate
topic: tthc.dossier.v1
measure: {kind: ratio, numerator: {kind: count}, denominator: {kind: count}}
window: month
target: {value: 40, direction: gte, period: year, group: digital_government}
unit: "%"
""",
)
VISITS = parse_definition(
    "visits.yaml",
    """
id: visits
title_vi: Lượt khám
title_en: Visits
topic: health.medical-visit.v1
measure: {kind: count}
window: day
unit: visits
""",
)
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _month(year: int, month: int) -> str:
    return window_for(datetime(year, month, 1, tzinfo=LOCAL_TZ), "month").key


def state() -> AggregationState:
    """Online rate 30 % in October, 50 % in November; no visits at all."""
    windows = {
        _month(2026, 10): ClosedWindow(
            cells={"[]": Cell(numerator=Part(count=3), denominator=Part(count=10))}
        ),
        _month(2026, 11): ClosedWindow(
            cells={"[]": Cell(numerator=Part(count=5), denominator=Part(count=10))}
        ),
    }
    return AggregationState(kpis={RATE.id: KpiState(closed_windows=windows)})


def reports() -> PeriodReports:
    return PeriodReports(lambda: [RATE, VISITS], state)


def test_the_report_has_value_target_status_change_and_chart() -> None:
    report = reports().report(parse_period("2026-11"), NOW)
    assert report.period.label_vi == "Tháng 11/2026" and report.previous_period == "2026-10"
    rate, visits = report.kpis
    assert (rate.value, rate.status, rate.previous_value) == (50.0, "met", 30.0)
    assert rate.change == pytest.approx(20.0) and rate.change_percent == pytest.approx(66.667, 0.01)
    assert [p.period for p in rate.chart][-2:] == ["2026-10", "2026-11"] and len(rate.chart) == 12
    assert (visits.value, visits.status, visits.change) == (None, "no_target", None)
    assert (report.scorecard.overall.met, report.scorecard.overall.total) == (1, 1)
    quarter = reports().report(parse_period("2026-Q4"), NOW)
    assert quarter.kpis[0].value == pytest.approx(40.0)  # 8 / 20 over the quarter
    assert len(quarter.kpis[0].chart) == 8


def test_the_scorecard_assesses_each_target_over_its_own_period() -> None:
    card = reports().scorecard(NOW)
    (item,) = card.items
    assert (item.period, item.value, item.status) == ("2026", pytest.approx(40.0), "met")
    government = next(g for g in card.groups if g.group == "digital_government")
    assert (government.met, government.total, government.title_vi) == (1, 1, "Chính quyền số")


def test_the_xlsx_reads_back_the_reports_values() -> None:
    report = reports().report(parse_period("2026-11"), NOW)
    book = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))
    sheet = book["Báo cáo (report)"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r[0] == "Mã chỉ số (KPI id)"))
    values = {r[0]: r[4] for r in rows[header + 1 :]}
    assert values == {"online-rate": 50.0, "visits": NO_DATA}
    assert rows[header + 1][7] == "Đạt (met)"
    assert book.sheetnames == ["Báo cáo (report)", "Chỉ tiêu (scorecard)", "Xu hướng (trend)"]


def test_the_page_is_printable_escaped_and_bilingual() -> None:
    page = render_html(reports().report(parse_period("2026-11"), NOW))
    assert "@media print" in page and "Đạt (met)" in page
    assert "Tỷ lệ hồ sơ &lt;trực tuyến&gt;" in page and "<trực tuyến>" not in page
    assert "không có dữ liệu (no data)" in page
    assert "Tháng 11/2026" in page and "November 2026" in page


def test_a_sparkline_draws_a_line_with_gaps() -> None:
    points = [ReportPoint(period=str(i), value=v) for i, v in enumerate([1.0, 2.0, None, 3.0])]
    svg = sparkline(points)
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 2
    assert "<svg" in sparkline([ReportPoint(period="1", value=None)])
