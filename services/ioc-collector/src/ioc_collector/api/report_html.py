"""The periodic report as a printable HTML page (A4, print CSS), each KPI with an SVG sparkline."""

from __future__ import annotations

from html import escape

from ioc_collector.api.report_models import PeriodReport, ReportPoint, ReportRow, ScorecardView

STATUS_LABELS = {
    "met": "Đạt (met)",
    "not_met": "Chưa đạt (not met)",
    "no_data": "Không có dữ liệu (no data)",
    "no_target": "Không có chỉ tiêu (no target)",
}
NO_DATA = "không có dữ liệu (no data)"
DIRECTIONS = {"gte": "≥", "lte": "≤"}
PERIODS = {"month": "tháng (month)", "quarter": "quý (quarter)", "year": "năm (year)"}

CSS = """
body { font-family: "Segoe UI", Roboto, Arial, sans-serif; margin: 24px; color: #1b1f23; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 20px 0 8px; }
.en { color: #57606a; font-weight: normal; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: middle; }
th { background: #f6f8fa; } td.num { text-align: right; white-space: nowrap; }
.met { color: #1a7f37; font-weight: 600; } .not_met { color: #cf222e; font-weight: 600; }
.no_data, .no_target { color: #57606a; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.card b { font-size: 18px; }
.actions { margin: 8px 0 16px; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { margin: 0; } .actions { display: none; }
  tr { break-inside: avoid; } th { background: #eee !important; }
}
"""


def fmt(value: float | None, unit: str = "") -> str:
    """Return a value for people: 1 decimal for %, thousands separated otherwise."""
    if value is None:
        return NO_DATA
    if unit == "%":
        return f"{value:.1f} %"
    text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"
    return f"{text} {escape(unit)}".strip()


def sparkline(points: list[ReportPoint], width: int = 120, height: int = 28) -> str:
    """Return an inline SVG polyline of the points (gaps where there is no data)."""
    values = [p.value for p in points]
    known = [v for v in values if v is not None]
    if not known:
        return f'<svg width="{width}" height="{height}" role="img" aria-label="{NO_DATA}"></svg>'
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            segments.append([])
            continue
        y = height / 2 if high == low else height - 2 - (v - low) / span * (height - 4)
        segments[-1].append(f"{i * step:.1f},{y:.1f}")
    lines = "".join(
        f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{" ".join(s)}"/>'
        for s in segments
        if len(s) > 1
    )
    dots = "".join(
        f'<circle cx="{s[-1].split(",")[0]}" cy="{s[-1].split(",")[1]}" r="2" fill="#0969da"/>'
        for s in segments
        if s
    )
    label = escape(", ".join(f"{p.period}: {fmt(p.value)}" for p in points))
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}">{lines}{dots}</svg>'
    )


def _target(row: ReportRow) -> str:
    if row.target is None:
        return "—"
    return f"{DIRECTIONS[row.target.direction]} {fmt(row.target.value, row.unit)}"


def _change(row: ReportRow) -> str:
    if row.change is None:
        return "—"
    sign = "+" if row.change > 0 else ""
    unit = " điểm % (pp)" if row.unit == "%" else ""
    relative = f" ({sign}{row.change_percent:.1f} %)" if row.change_percent is not None else ""
    return f"{sign}{row.change:,.1f}{unit}{relative}"


def _row(row: ReportRow) -> str:
    return (
        f'<tr data-kpi="{escape(row.kpi_id)}"><td>{escape(row.title_vi)}'
        f'<br><span class="en">{escape(row.title_en)}</span></td>'
        f'<td class="num">{fmt(row.value, row.unit)}</td><td class="num">{_target(row)}</td>'
        f'<td class="{row.status}">{STATUS_LABELS[row.status]}</td>'
        f'<td class="num">{fmt(row.previous_value, row.unit)}</td>'
        f'<td class="num">{_change(row)}</td><td>{sparkline(row.chart)}</td></tr>'
    )


def _scorecard(card: ScorecardView) -> str:
    cards = [
        f'<div class="card">Tổng <span class="en">(overall)</span><br>'
        f'<b>{card.overall.met}/{card.overall.total}</b> đạt <span class="en">(met)</span></div>'
    ]
    for group in card.groups:
        cards.append(
            f'<div class="card">{escape(group.title_vi)} <span class="en">'
            f"({escape(group.title_en)})</span><br><b>{group.met}/{group.total}</b></div>"
        )
    return f'<div class="cards" id="scorecard">{"".join(cards)}</div>'


def render_html(report: PeriodReport) -> str:
    """Return the report as a standalone printable page."""
    period = report.period
    title = f"Báo cáo {escape(period.label_vi)} (report, {escape(period.label_en)})"
    rows = "".join(_row(row) for row in report.kpis)
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<style>{CSS}</style></head><body>
<h1>Báo cáo định kỳ của Ban Chỉ đạo chuyển đổi số — {escape(period.label_vi)}
<span class="en">(Steering Committee periodic report — {escape(period.label_en)})</span></h1>
<div>Kỳ báo cáo <span class="en">(period)</span>: {PERIODS[period.kind]} {escape(period.id)};
so với kỳ trước <span class="en">(compared with)</span> {escape(report.previous_period)};
lập lúc <span class="en">(generated)</span> {generated}</div>
<div class="actions"><button onclick="window.print()">In báo cáo (print)</button>
<a href="?format=xlsx">Tải Excel (.xlsx)</a> · <a href="?format=json">JSON</a></div>
<h2>Chỉ tiêu đạt <span class="en">(targets met)</span></h2>
{_scorecard(report.scorecard)}
<h2>Các chỉ số <span class="en">(KPIs)</span></h2>
<table><thead><tr><th>Chỉ số <span class="en">(KPI)</span></th>
<th>Giá trị <span class="en">(value)</span></th><th>Chỉ tiêu <span class="en">(target)</span></th>
<th>Đánh giá <span class="en">(status)</span></th>
<th>Kỳ trước <span class="en">(previous)</span></th>
<th>Thay đổi <span class="en">(change)</span></th><th>Xu hướng <span class="en">(trend)</span></th>
</tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""
