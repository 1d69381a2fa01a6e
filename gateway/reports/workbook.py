"""Report files: Excel workbooks (with native charts) and CSV, from ``sheets``.

Every text cell goes through the one formula-escaping helper
(``gateway.intake.results.safe_value``), so a name or a reason that starts with ``=`` can
never run as a formula; money and credits are numbers formatted ``0.00``, percentages
``0.0``, dates as dates. Workbooks are saved atomically (``save_workbook``). The weekly
workbook opens with a cover sheet (college, week, generated at, and "no activity" when the
week was quiet) and carries two openpyxl charts: coverage by major (bars) and the weekly
trend of the school year (lines).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gateway.amounts import two_places
from gateway.intake.results import safe_value, save_workbook
from gateway.models import BEIJING
from gateway.reports.coverage import CoverageReport
from gateway.reports.fees import FeesReport
from gateway.reports.sheets import (
    Sheet,
    coverage_sheets,
    fees_sheets,
    weekly_sheets,
)
from gateway.reports.weekly import WeeklyReport

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)


def _places(value: Decimal) -> int:
    """Decimal places as stored: money and credits have two, percentages one, counts none."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _excel(value: Any) -> tuple[Any, str | None]:
    """(cell value, number format)"""
    if isinstance(value, Decimal):
        places = _places(value)
        fmt = "0.00" if places >= 2 else ("0.0" if places == 1 else "0")
        return float(value), fmt
    if isinstance(value, datetime):
        local = value.astimezone(BEIJING) if value.tzinfo else value
        return local.replace(tzinfo=None), "yyyy-mm-dd hh:mm"
    if isinstance(value, date):
        return value, "yyyy-mm-dd"
    return safe_value(value), None


def _append(ws: Worksheet, values: Sequence[Any], bold: bool = False) -> None:
    ws.append([_excel(v)[0] for v in values])
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        fmt = _excel(value)[1]
        if fmt:
            cell.number_format = fmt
        if isinstance(cell.value, str):
            cell.data_type = "s"  # a string, never a formula
        if bold:
            cell.font = BOLD


def _fill(ws: Worksheet, sheet: Sheet) -> None:
    _append(ws, sheet.headers, bold=True)
    for row in sheet.rows:
        _append(ws, row)
    if sheet.note:
        ws.append([])
        _append(ws, [sheet.note], bold=True)
    ws.freeze_panes = "A2"
    for index, header in enumerate(sheet.headers, start=1):
        width = max([len(str(header)) * 2] + [len(str(r[index - 1])) for r in sheet.rows[:200]])
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 40)


def _book(sheets: list[Sheet], first: Workbook | None = None) -> Workbook:
    book = first or Workbook()
    if first is None:
        default = book.active
        assert default is not None
        book.remove(default)
    for sheet in sheets:
        _fill(book.create_sheet(sheet.name[:31]), sheet)
    return book


def write_coverage_xlsx(report: CoverageReport, path: Path) -> Path:
    book = _book(coverage_sheets(report))
    _coverage_chart(book["按专业"], len(report.majors), "各专业获证率")
    return save_workbook(book, path)


def write_fees_xlsx(report: FeesReport, path: Path) -> Path:
    return write_sheets(fees_sheets(report), path)


def write_sheets(sheets: list[Sheet], path: Path) -> Path:
    """Tables as a workbook, one sheet each."""
    return save_workbook(_book(sheets), path)


def _cover(book: Workbook, report: WeeklyReport) -> None:
    ws = book.create_sheet("封面")
    ws.append([safe_value(f"{report.college or '本校'}1+X证书工作周报")])
    ws["A1"].font = TITLE
    week = report.week
    rows: list[tuple[str, Any]] = [
        ("学院", report.college or "（未设置：xgate.toml 的 [report] college）"),
        ("周次", week.label),
        ("起止日期", f"{week.monday:%Y-%m-%d}（周一）至 {week.sunday:%Y-%m-%d}（周日）"),
        ("学年", report.school_year),
        ("生成时间（北京时间）", report.generated_at),
        ("本周概况", "本周无业务活动" if report.quiet else "见“总览”工作表"),
    ]
    for label, value in rows:
        _append(ws, [label, value])
        ws.cell(ws.max_row, 1).font = BOLD
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48


def write_weekly_xlsx(report: WeeklyReport, path: Path) -> Path:
    book = Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    _cover(book, report)
    _book(weekly_sheets(report), book)
    _trend_chart(book["周趋势"], len(report.trend))
    _coverage_chart(book["专业覆盖率"], len(report.coverage_by_major), "各专业证书覆盖率")
    return save_workbook(book, path)


def _coverage_chart(ws: Worksheet, rows: int, title: str) -> None:
    """Bars of 获证率 (column E) per major (column B)."""
    if not rows:
        return
    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.y_axis.title = "获证率（%）"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 100
    chart.add_data(Reference(ws, min_col=5, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=rows + 1))
    chart.height, chart.width = max(7.5, rows * 0.8), 18
    ws.add_chart(chart, f"{get_column_letter(ws.max_column + 2)}2")


def _trend_chart(ws: Worksheet, rows: int) -> None:
    """Lines of registrations, sat, passed and certificates (columns C-F) per week."""
    if not rows:
        return
    chart = LineChart()
    chart.title = "本学年每周进展"
    chart.y_axis.title = "人次"
    chart.x_axis.title = "周次"
    chart.add_data(
        Reference(ws, min_col=3, max_col=6, min_row=1, max_row=rows + 1), titles_from_data=True
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
    chart.height, chart.width = 9, 22
    ws.add_chart(chart, f"{get_column_letter(ws.max_column + 2)}2")


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return two_places(value) if _places(value) >= 2 else str(value)
    if isinstance(value, datetime):
        return (value.astimezone(BEIJING) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(safe_value(value)) if isinstance(value, str) else str(value)
    return text


def write_csv(sheet: Sheet, path: Path) -> Path:
    """One table as CSV (UTF-8 with BOM, so Excel shows the Chinese headers), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".xgate-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(sheet.headers)
            out.writerows([_csv_text(v) for v in row] for row in sheet.rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
