"""Helpers for the credit-bank tests: records inserted the way the sync stores them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from gateway.credit.rules import RuleSet, parse_rules
from gateway.store import tables as t

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
ORG = "beifang"


def rules(version: str = "2026.1", **defaults: Any) -> RuleSet:
    """HGJL: junior -> a foundation course, intermediate -> core courses, senior -> both;
    HAZOP junior -> the same foundation course (so the two compete for it)."""
    return parse_rules(
        {
            "version": version,
            "defaults": {"max_credits_per_certificate": 8, "validity_years": 5, **defaults},
            "rule": [
                {
                    "certificate": "HGJL",
                    "levels": [1, 3],
                    "course_code": "HG101",
                    "course_name": "化工单元操作",
                    "credits": 2,
                },
                {
                    "certificate": "HGJL",
                    "levels": [2, 3],
                    "course_code": "HG201",
                    "course_name": "化工精馏技术",
                    "credits": 4,
                },
                {
                    "certificate": "HGJL",
                    "levels": [2, 3],
                    "course_code": "HG202",
                    "course_name": "化工安全控制",
                    "credits": 3,
                },
                {
                    "certificate": "HAZOP",
                    "level": 1,
                    "course_code": "HG101",
                    "course_name": "化工单元操作",
                    "credits": 2,
                },
            ],
        },
        "test-rules",
    )


async def add_certificate(
    conn: Any,
    id_hash: str,
    number: str,
    code: str = "HGJL",
    level: int = 2,
    *,
    issued_on: date = date(2025, 12, 20),
    status: str = "valid",
    plan_code: str | None = "P-HGJL",
    org: str = ORG,
) -> None:
    await conn.execute(
        t.certificates.insert().values(
            organization=org,
            number=number,
            certificate_code=code,
            certificate_name={"HGJL": "化工精馏安全控制", "HAZOP": "HAZOP分析"}.get(code),
            level=level,
            id_hash=id_hash,
            plan_code=plan_code,
            issued_on=issued_on,
            status=status,
            org_updated_at=NOW,
            updated_at=NOW,
        )
    )


async def set_certificate_status(conn: Any, number: str, status: str) -> None:
    await conn.execute(
        update(t.certificates).where(t.certificates.c.number == number).values(status=status)
    )


async def add_score(
    conn: Any,
    id_hash: str,
    total: str,
    *,
    plan_code: str = "P-HGJL",
    code: str = "HGJL",
    level: int = 2,
    org: str = ORG,
) -> None:
    await conn.execute(
        t.scores.insert().values(
            organization=org,
            plan_code=plan_code,
            id_hash=id_hash,
            certificate_code=code,
            level=level,
            theory=Decimal(total),
            practical=Decimal(total),
            total=Decimal(total),
            revision=1,
            revised_at=NOW,
            updated_at=NOW,
            recorded_at=NOW,
        )
    )


async def correct_score(conn: Any, id_hash: str, total: str, plan_code: str = "P-HGJL") -> None:
    s = t.scores
    await conn.execute(
        update(s)
        .where(s.c.id_hash == id_hash, s.c.plan_code == plan_code)
        .values(total=Decimal(total), revision=s.c.revision + 1)
    )


async def ledger_rows(conn: Any) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(t.credit_ledger, t.learning_accounts.c.id_hash)
        .join(t.learning_accounts)
        .order_by(t.credit_ledger.c.account_id, t.credit_ledger.c.seq)
    )
    return [dict(r) for r in rows.mappings()]


def person(n: int) -> str:
    return f"{n:064x}"


HEADER = ["证件号码", "姓名", "类型", "课程代码", "课程名称", "学分", "日期"]


def write_xlsx(path: Any, rows: list[list[Any]], header: list[str] = HEADER) -> Any:
    """An XLSX as staff make it: a merged title row above the header, ID numbers as text."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["2025学年 课程学分与培训登记表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def write_csv(
    path: Any, rows: list[list[Any]], *, encoding: str = "utf-8-sig", header: list[str] = HEADER
) -> Any:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path
