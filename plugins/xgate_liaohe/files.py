"""The files the platform exchanges: registration uploads out, score exports in.

Both are GB18030 (the platform is a Chinese Windows shop: GBK would lose rare name characters
such as 䶮, GB18030 keeps every Unicode character) or, for uploads, XLSX. Headers are Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from gateway import Candidate, ExamPlan
from xgate_liaohe.wire import ID_TYPE_LABELS, LEVEL_LABELS, SEX_LABELS

ENCODING = "gb18030"

REGISTRATION_HEADERS = (
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "民族",
    "手机号码",
    "学号",
    "院系",
    "专业",
    "班级",
    "证书代码",
    "等级",
    "报考类型",
    "减免考务费",
)

SCORE_HEADERS = (
    "成绩编号",
    "考核计划",
    "证书代码",
    "证书名称",
    "等级",
    "姓名",
    "证件类型",
    "证件号码",
    "理论成绩",
    "实操成绩",
    "总成绩",
    "考核结果",
    "成绩版本",
    "更新时间",
)

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def registration_row(plan: ExamPlan, candidate: Candidate) -> list[str]:
    return [
        candidate.name,
        ID_TYPE_LABELS[candidate.id_type],
        candidate.id_number,
        SEX_LABELS.get(candidate.sex.value, "") if candidate.sex else "",
        candidate.birth_date.isoformat() if candidate.birth_date else "",
        candidate.ethnicity or "",
        candidate.mobile or "",
        candidate.student_number or "",
        candidate.department or "",
        candidate.major or "",
        candidate.class_name or "",
        plan.certificate_code,
        LEVEL_LABELS[int(plan.level)],
        "补考" if candidate.resit else "新考",
        "是" if candidate.fee_waiver else "否",
    ]


def registration_file(
    plan: ExamPlan, candidates: Sequence[Candidate], fmt: str
) -> tuple[str, bytes, str]:
    """``(filename, content, media type)``; data rows are numbered from 1 in file order,
    which is how the platform's job results refer to them."""
    rows = [registration_row(plan, c) for c in candidates]
    if fmt == "xlsx":
        # imported here: every command loads the plugins, few write an upload workbook
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "报名"
        sheet.append(list(REGISTRATION_HEADERS))
        for row in rows:
            sheet.append(row)  # strings stay strings: no ID number turned into a float
        out = io.BytesIO()
        book.save(out)
        return f"{plan.code}.xlsx", out.getvalue(), XLSX_TYPE
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(REGISTRATION_HEADERS)
    writer.writerows(rows)
    return f"{plan.code}.csv", text.getvalue().encode(ENCODING), CSV_TYPE


def read_csv(content: bytes, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a GB18030 CSV as header -> cell. Raises ``ValueError`` naming what is wrong."""
    try:
        text = content.decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not GB18030 text: {exc.reason} at byte {exc.start}") from None
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError("the file is empty") from None
    missing = [h for h in required if h not in header]
    if missing:
        raise ValueError("missing columns: " + ", ".join(missing))
    rows: list[dict[str, str]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ValueError(f"row {len(rows) + 1} has {len(cells)} cells, header {len(header)}")
        rows.append(dict(zip(header, (c.strip() for c in cells), strict=True)))
    return rows
