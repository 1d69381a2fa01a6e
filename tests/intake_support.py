"""Helpers for the intake tests: real files (openpyxl workbooks, CSV bytes) and the demo rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from gateway.catalogue import load_catalogue
from gateway.idnumber import check_char
from gateway.intake import IntakeOptions, IntakeRules, check_file, load_eligibility, load_fees
from gateway.intake.check import CheckedFile, resolve_plan

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
HEADERS = [
    "姓名",
    "证件号码",
    "性别",
    "手机号码",
    "专业",
    "证书名称",
    "等级",
    "考核批次",
    "是否家庭经济困难",
    "新考/补考",
]


def rules() -> IntakeRules:
    return IntakeRules(
        load_catalogue(DATA / "catalogue.toml"),
        load_fees(DATA / "fees.toml"),
        load_eligibility(DATA / "eligibility.toml"),
    )


def make_id(birth: str = "20050301", seq: int = 123, region: str = "210802") -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + check_char(body)


def student(
    name: str = "张三",
    id_number: Any = None,
    sex: str = "",
    mobile: str = "13812345678",
    major: str = "应用化工技术",
    certificate: str = "化工精馏安全控制",
    level: str = "中级",
    plan: str = "BF-2026-HGJL-2",
    waiver: str = "否",
    sitting: str = "新考",
) -> list[Any]:
    return [
        name,
        make_id() if id_number is None else id_number,
        sex,
        mobile,
        major,
        certificate,
        level,
        plan,
        waiver,
        sitting,
    ]


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str] = HEADERS,
    titles: Sequence[str] = (),
    sheet: str = "名单",
) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    for title in titles:
        ws.append([title])
        n = ws.max_row
        ws.merge_cells(start_row=n, start_column=1, end_row=n, end_column=len(headers))
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a CSV import leaves it
    wb.save(path)
    return path


def csv_bytes(
    rows: Sequence[Sequence[Any]],
    encoding: str,
    headers: Sequence[str] = HEADERS,
    delimiter: str = ",",
) -> bytes:
    lines = [delimiter.join(headers)] + [
        delimiter.join("" if v is None else str(v) for v in r) for r in rows
    ]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def check(path: Path, plan: str | None = None, **options: Any) -> CheckedFile:
    r = rules()
    plan_def = resolve_plan(
        r.catalogue,
        plan,
        options.get("organization"),
        options.get("organization_names", frozenset()),
    )
    return check_file(path, r, IntakeOptions(plan=plan_def, **options))


def codes(checked: CheckedFile) -> dict[int, list[str]]:
    """Row number -> problem codes, for rows with problems."""
    return {r.row: [p.code for p in r.problems] for r in checked.rows if r.problems}
