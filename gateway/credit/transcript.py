"""A learner's transcript: the account, its outcomes, active credit per course, and the ledger.

Shown by ``xgate credits show`` and written by ``xgate credits transcript`` as JSON or XLSX.
Only the masked ID appears. Active credit is what the ledger says now: entries that add credit
and have not been reversed, grouped by course; entries past their validity are listed but not
counted (the next reconcile reverses them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.accounts import Account, get_account
from gateway.credit.ledger import active_entries, credits_text, entries_of, entry_model
from gateway.models import BEIJING, CreditEntry
from gateway.private_files import prepare
from gateway.store import tables as t

KIND_LABELS = {
    "conversion": "证书转换",
    "course": "课程学分",
    "training": "非学历培训",
    "reversal": "冲销",
    "certificate": "职业技能等级证书",
}


@dataclass(frozen=True)
class CourseCredit:
    course_code: str
    course_name: str
    credits: Decimal
    kinds: tuple[str, ...]
    sources: tuple[str, ...]  # certificate numbers or import keys
    grade: str | None
    valid_until: date | None
    rule_version: str | None
    expired: bool = False


@dataclass
class Transcript:
    account: Account
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    courses: list[CourseCredit] = field(default_factory=list)
    entries: list[CreditEntry] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: 学号, department, major and class when the learner is a student (from the roster or
    #: their candidate list); set by whoever found the learner
    student: dict[str, str | None] | None = None

    @property
    def total(self) -> Decimal:
        return sum((c.credits for c in self.courses if not c.expired), Decimal(0))


async def build_transcript(
    conn: AsyncConnection, id_hash: str, *, now: datetime | None = None
) -> Transcript | None:
    account = await get_account(conn, id_hash)
    if account is None:
        return None
    now = now or datetime.now(UTC)
    today = now.astimezone(BEIJING).date()
    o = t.learning_outcomes
    query = (
        select(
            o.c.kind,
            o.c.title,
            o.c.level,
            o.c.credits,
            o.c.achieved_on,
            o.c.status,
            o.c.source_org,
            o.c.source_ref,
        )
        .where(o.c.account_id == account.id)
        .order_by(o.c.achieved_on, o.c.id)
    )
    outcomes = [dict(r) for r in (await conn.execute(query)).mappings()]
    rows = [dict(r) for r in await entries_of(conn, [account.id])]
    courses: dict[tuple[str, bool], list[Mapping[str, Any]]] = {}
    for row in active_entries(rows):
        expired = row["valid_until"] is not None and row["valid_until"] < today
        courses.setdefault((row["course_code"] or "", expired), []).append(row)
    credits = [
        CourseCredit(
            course_code=code,
            course_name=group[-1]["course_name"] or code,
            credits=sum((Decimal(credits_text(r["credits"])) for r in group), Decimal(0)),
            kinds=tuple(sorted({r["kind"] for r in group})),
            sources=tuple(r["source_ref"] or "" for r in group),
            grade=group[-1]["grade"],
            valid_until=min((r["valid_until"] for r in group if r["valid_until"]), default=None),
            rule_version=group[-1]["rule_version"],
            expired=expired,
        )
        for (code, expired), group in sorted(courses.items())
    ]
    return Transcript(account, outcomes, credits, [entry_model(r) for r in rows], now)


def transcript_json(tr: Transcript) -> dict[str, Any]:
    """Plain data (no personal data beyond the name and the masked ID)."""
    return {
        "account": {
            "id_masked": tr.account.id_masked,
            "name": tr.account.name,
            "kind": tr.account.kind,
            "opened": tr.account.created_at,
            "entries": len(tr.entries),
        },
        "student": tr.student,
        "total_credits": credits_text(tr.total),
        "courses": [
            {
                "course_code": c.course_code,
                "course_name": c.course_name,
                "credits": credits_text(c.credits),
                "kinds": list(c.kinds),
                "sources": list(c.sources),
                "grade": c.grade,
                "valid_until": c.valid_until,
                "rule_version": c.rule_version,
                "expired": c.expired,
            }
            for c in tr.courses
        ],
        "outcomes": [_outcome_json(o) for o in tr.outcomes],
        "entries": [
            {**e.model_dump(mode="json", exclude={"account"}), "credits": credits_text(e.credits)}
            for e in tr.entries
        ],
        "generated_at": tr.generated_at,
    }


def _outcome_json(outcome: Mapping[str, Any]) -> dict[str, Any]:
    credits = outcome["credits"]
    return {**outcome, "credits": credits_text(credits) if credits is not None else None}


def _cell(value: Any) -> Any:
    """Spreadsheet-safe, by the one escaping rule (``gateway.intake.results.safe_value``): a
    text that could start a formula never becomes one."""
    from gateway.intake.results import safe_value

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).replace(tzinfo=None)
    return safe_value(value)


STUDENT_LABELS = (
    ("student_number", "学号 Student number"),
    ("department", "院系 Department"),
    ("major", "专业 Major"),
    ("class_name", "班级 Class"),
)


def _student_rows(student: Mapping[str, str | None] | None) -> list[tuple[str, Any]]:
    if not student:
        return []
    return [(label, student.get(key)) for key, label in STUDENT_LABELS if student.get(key)]


COURSE_HEADERS = (
    "课程代码 Course code",
    "课程名称 Course",
    "学分 Credits",
    "来源 Kind",
    "依据 Source",
    "等级 Grade",
    "有效期至 Valid until",
    "规则版本 Rules",
    "已过期 Expired",
)
OUTCOME_HEADERS = (
    "学习成果 Outcome",
    "类型 Kind",
    "等级 Level",
    "学分 Credits",
    "取得日期 Date",
    "状态 Status",
    "编号 Reference",
)
LEDGER_COLUMNS = (
    "seq",
    "kind",
    "course_code",
    "course_name",
    "credits",
    "grade",
    "source_org",
    "source_ref",
    "rule_version",
    "reverses_seq",
    "valid_until",
    "reason",
    "recorded_at",
    "hash",
)


def write_xlsx(tr: Transcript, path: Path) -> None:
    """Two sheets: 成绩单 (account, courses, outcomes) and 账本 (every ledger entry)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "成绩单"
    _transcript_sheet(sheet, tr)
    ledger_sheet = book.create_sheet("账本")
    _section(
        ledger_sheet,
        LEDGER_COLUMNS,
        [[e.model_dump()[c] for c in LEDGER_COLUMNS] for e in tr.entries],
    )
    for ws in (sheet, ledger_sheet):
        _fit_columns(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(prepare(path))


def _transcript_sheet(sheet: Any, tr: Transcript) -> None:
    from openpyxl.styles import Font

    account = tr.account
    head = [
        ("学分银行成绩单 / Credit bank transcript", None),
        ("姓名 Name", account.name),
        ("证件号码 ID (masked)", account.id_masked),
        *_student_rows(tr.student),
        ("学员类别 Learner", account.kind),
        ("有效学分合计 Active credits", float(tr.total)),
        ("生成时间 Generated (Asia/Shanghai)", tr.generated_at),
    ]
    for label, value in head:
        sheet.append([_cell(label), _cell(value)])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    courses = [
        [
            c.course_code,
            c.course_name,
            c.credits,
            "、".join(KIND_LABELS.get(k, k) for k in c.kinds),
            "、".join(c.sources),
            c.grade,
            c.valid_until,
            c.rule_version,
            "是" if c.expired else "",
        ]
        for c in tr.courses
    ]
    _section(sheet, COURSE_HEADERS, courses)
    sheet.append([])
    outcomes = [
        [
            o["title"],
            KIND_LABELS.get(o["kind"], o["kind"]),
            o["level"],
            o["credits"],
            o["achieved_on"],
            o["status"],
            o["source_ref"],
        ]
        for o in tr.outcomes
    ]
    _section(sheet, OUTCOME_HEADERS, outcomes)


def _section(sheet: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A bold header row, then the rows, every cell spreadsheet-safe."""
    from openpyxl.styles import Font

    sheet.append(list(headers))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(v) for v in row])


def _fit_columns(ws: Any) -> None:
    from openpyxl.utils import get_column_letter

    for index, col in enumerate(ws.columns, start=1):
        width = max((len(str(c.value)) for c in col if c.value is not None), default=8)
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 10), 48)
