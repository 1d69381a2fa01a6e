"""The results workbook written beside a submitted file: ``<name>.<organization>.results.xlsx``.

Staff open it in Excel, so every text cell is escaped: a value that begins with ``=``, ``+``,
``-``, ``@`` (or a tab or carriage return) gets a leading apostrophe and is stored as a plain
string, so nothing in it (a name, a reason an organization sent) can ever run as a formula,
in this workbook or in a CSV someone later saves from it. The original rows are re-read from
the input file (streamed) rather than kept in memory, and the workbook is written in
openpyxl's write-only mode to a temporary file that replaces the target only when complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from gateway.intake.check import CheckedFile
from gateway.intake.validate import RowResult

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: accepted, rejected, invalid, skipped, pending or unknown."""

    status: str
    detail_en: str = ""
    detail_zh: str = ""
    code: str | None = None

    @property
    def text_en(self) -> str:
        return f"{self.status}: {self.detail_en}" if self.detail_en else self.status

    @property
    def text_zh(self) -> str:
        return self.detail_zh or _STATUS_ZH.get(self.status, self.status)


_STATUS_ZH = {
    "accepted": "已受理",
    "rejected": "被拒绝",
    "invalid": "数据有误，未提交",
    "skipped": "已跳过",
    "pending": "尚未发送",
    "unknown": "结果待确认",
    "cancelled": "已取消",
}


def outcome_from_check(result: RowResult) -> RowOutcome | None:
    """The outcome a row has before anything is sent (invalid or skipped); None if valid."""
    if result.status == "invalid":
        return RowOutcome(
            "invalid",
            "; ".join(p.message_en for p in result.problems),
            "；".join(p.message_zh for p in result.problems),
            ",".join(p.code for p in result.problems),
        )
    if result.status == "skipped" and result.skip:
        return RowOutcome("skipped", result.skip[1], result.skip[0], "already_registered")
    return None


def results_path(source: Path, organization: str | None = None) -> Path:
    """``名单.xlsx`` -> ``名单.results.xlsx`` (``名单.csv`` too), beside the input; for a
    submission, ``名单.beifang.results.xlsx``: one list submitted to two organizations (each
    taking its own plans' rows) keeps both workbooks, neither overwrites the other."""
    middle = f".{organization}" if organization else ""
    return source.with_name(f"{source.stem}{middle}.results.xlsx")


def safe_value(value: Any) -> Any:
    """A value as it may be written to a cell: text escaped, control characters removed."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_PREFIXES):
            return "'" + value
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones
    return value


def _cell(ws: WriteOnlyWorksheet, value: Any, bold: bool = False) -> Cell:
    cell = WriteOnlyCell(ws, value=safe_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"  # explicit: a string, never a formula
    if bold:
        cell.font = Font(bold=True)
    return cell


def _row(ws: WriteOnlyWorksheet, values: Sequence[Any], bold: bool = False) -> None:
    ws.append([_cell(ws, v, bold) for v in values])


def write_results(
    checked: CheckedFile, outcomes: Mapping[int, RowOutcome], path: Path | None = None
) -> Path:
    """Write the results workbook; returns its path. ``outcomes`` is keyed by row number."""
    target = path or results_path(checked.path, checked.options.organization)
    layout = checked.source.layout
    width = len(layout.headers)
    by_row = {r.row: r for r in checked.rows}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("结果 results")
    ws.freeze_panes = "A2"
    _row(ws, [*layout.headers, "原行号 row", "状态 status", "说明"], bold=True)
    for source_row in checked.source.rows():
        outcome = outcomes.get(source_row.number)
        result = by_row.get(source_row.number)
        if outcome is None and result is not None:
            outcome = outcome_from_check(result)
        outcome = outcome or RowOutcome("unknown", "no outcome recorded", "没有结果记录")
        values = list(source_row.values[:width]) + [None] * (width - len(source_row.values))
        _row(ws, [*values, source_row.number, outcome.text_en, outcome.text_zh])
    problems = wb.create_sheet("问题 problems")
    problems.freeze_panes = "A2"
    _row(
        problems,
        [
            "行号 row",
            "姓名 name",
            "证件号码 ID",
            "状态 status",
            "字段 field",
            "代码 code",
            "说明",
            "message",
        ],
        bold=True,
    )
    for result in checked.rows:
        outcome = outcomes.get(result.row) or outcome_from_check(result)
        if result.problems:
            for p in result.problems:
                _row(
                    problems,
                    [
                        result.row,
                        result.name,
                        result.id_masked,
                        "invalid",
                        p.field,
                        p.code,
                        p.message_zh,
                        p.message_en,
                    ],
                )
        elif outcome is not None and outcome.status == "rejected":
            _row(
                problems,
                [
                    result.row,
                    result.name,
                    result.id_masked,
                    "rejected",
                    "",
                    outcome.code or "",
                    outcome.text_zh,
                    outcome.detail_en,
                ],
            )
    return save_workbook(wb, target)


def save_workbook(wb: Workbook, target: Path) -> Path:
    """Save to a temporary file beside ``target`` that replaces it only when complete, so a
    crash or a full disk never leaves a half-written workbook under the real name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".xgate-", suffix=".xlsx", dir=target.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
