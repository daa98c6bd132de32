"""The periodic report as an Excel workbook (openpyxl).

Sheet "Báo cáo (report)": one row per KPI under a header row whose first cell is
"Mã chỉ số (KPI id)"; values are numbers exactly as in the JSON report (no rounding; the cell
format shows one decimal), or the text "không có dữ liệu (no data)". Sheet "Chỉ tiêu
(scorecard)": targets met out of targets set per group. Sheet "Xu hướng (trend)": each KPI's
values over this period and the ones before (the data of the HTML page's sparklines).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]

from ioc_collector.api.report_models import PeriodReport, ReportRow

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_DATA = "không có dữ liệu (no data)"
STATUS_LABELS = {
    "met": "Đạt (met)",
    "not_met": "Chưa đạt (not met)",
    "no_data": "Không có dữ liệu (no data)",
    "no_target": "Không có chỉ tiêu (no target)",
}
HEADER = (
    "Mã chỉ số (KPI id)", "Chỉ số", "Indicator", "Đơn vị (unit)", "Giá trị (value)",
    "Chỉ tiêu (target)", "Hướng (direction)", "Đánh giá (status)", "Kỳ trước (previous)",
    "Thay đổi (change)", "Cửa sổ (window)", "Số cửa sổ có dữ liệu (windows with data)",
)  # fmt: skip
BOLD = Font(bold=True)
FILL = PatternFill("solid", fgColor="F6F8FA")


def _number(value: float | None) -> float | str:
    return NO_DATA if value is None else value


def _cells(row: ReportRow) -> list[Any]:
    target = row.target
    return [
        row.kpi_id, row.title_vi, row.title_en, row.unit, _number(row.value),
        target.value if target else None,
        {"gte": "≥", "lte": "≤"}[target.direction] if target else None,
        STATUS_LABELS[row.status], _number(row.previous_value), row.change, row.window,
        row.windows_with_data,
    ]  # fmt: skip


def _header(sheet: Any, row: int, names: tuple[str, ...] | list[str]) -> None:
    for column, name in enumerate(names, start=1):
        cell = sheet.cell(row=row, column=column, value=name)
        cell.font, cell.fill = BOLD, FILL


def _report_sheet(sheet: Any, report: PeriodReport) -> None:
    period = report.period
    sheet.title = "Báo cáo (report)"
    sheet["A1"] = f"Báo cáo định kỳ — {period.label_vi} (periodic report — {period.label_en})"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = f"Kỳ báo cáo (period): {period.id}; kỳ trước (previous): {report.previous_period}"
    sheet["A3"] = f"Lập lúc (generated): {report.generated_at.isoformat()}"
    _header(sheet, 5, HEADER)
    for offset, row in enumerate(report.kpis, start=6):
        for column, value in enumerate(_cells(row), start=1):
            cell = sheet.cell(row=offset, column=column, value=value)
            if column in (5, 6, 9, 10) and isinstance(value, float | int):
                cell.number_format = "#,##0.0"
    widths = (30, 50, 40, 12, 16, 14, 10, 26, 16, 14, 10, 14)
    for letter, width in zip("ABCDEFGHIJKL", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "B6"


def _scorecard_sheet(sheet: Any, report: PeriodReport) -> None:
    card = report.scorecard
    _header(sheet, 1, ["Nhóm (group)", "Đạt (met)", "Tổng số chỉ tiêu (targets set)"])
    sheet.append(["Tổng (overall)", card.overall.met, card.overall.total])
    for group in card.groups:
        sheet.append([f"{group.title_vi} ({group.title_en})", group.met, group.total])
    sheet.append([])
    _header(sheet, sheet.max_row + 1, ["Mã chỉ số (KPI id)", "Nhóm (group)", "Đánh giá (status)"])
    for item in card.items:
        sheet.append([item.kpi_id, item.group or "", STATUS_LABELS[item.status]])
    sheet.column_dimensions["A"].width = 40


def _trend_sheet(sheet: Any, report: PeriodReport) -> None:
    periods = [point.period for point in report.kpis[0].chart] if report.kpis else []
    _header(sheet, 1, ["Mã chỉ số (KPI id)", *periods])
    for row in report.kpis:
        sheet.append([row.kpi_id, *(_number(point.value) for point in row.chart)])
    sheet.column_dimensions["A"].width = 40


def render_xlsx(report: PeriodReport) -> bytes:
    """Return the report as .xlsx bytes."""
    workbook = Workbook()
    _report_sheet(workbook.active, report)
    _scorecard_sheet(workbook.create_sheet("Chỉ tiêu (scorecard)"), report)
    _trend_sheet(workbook.create_sheet("Xu hướng (trend)"), report)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
