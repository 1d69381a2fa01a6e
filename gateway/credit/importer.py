"""Importing course credits and non-degree training (非学历培训) from a spreadsheet.

Columns (Chinese or English headers): 证件号码/ID number, 姓名/name, 类型/type (course|training,
课程|培训), 课程代码/course code, 课程名称/title, 学分/credits, 日期/date; optional 证件类型/ID type
and 学员类别/learner (student|staff|public: 学生, 企业职工, 社会人员).

Every row is checked before anything is written; one bad row means nothing is imported unless
the caller asks to skip invalid rows. Each accepted row becomes a learning outcome and a ledger
entry under a natural key (person, type, course code, date), so importing the same file again,
or a later file that repeats rows, adds nothing. A repeated key with different credits or title
is reported as a conflict and left alone: the ledger is corrected by compensating entries, not
by whichever file came last.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.accounts import accounts_by_hash, ensure_accounts
from gateway.credit.ledger import EntryDraft, append, chunks, credits_text
from gateway.credit.sheet import read_sheet
from gateway.idnumber import IdNumberError, looks_like_excel_damage, normalise, parse_resident_id
from gateway.masking import mask_id
from gateway.models import CreditEntry, CreditEntryKind
from gateway.store import tables as t

SOURCE = "college"  # source_org of imported outcomes: the college's own records
ALIASES: dict[str, tuple[str, ...]] = {
    "id_number": ("证件号码", "ID number", "身份证号", "身份证号码", "证件号", "id_number"),
    "name": ("姓名", "name", "学员姓名"),
    "kind": ("类型", "type", "kind", "成果类型"),
    "course_code": ("课程代码", "course code", "课程编号", "代码", "code"),
    "title": ("课程名称", "title", "course name", "名称", "培训项目", "项目名称"),
    "credits": ("学分", "credits"),
    "date": ("日期", "date", "完成日期", "取得日期"),
    "id_type": ("证件类型", "ID type"),
    "learner": ("学员类别", "learner", "人员类别"),
}
REQUIRED = ("id_number", "name", "kind", "course_code", "title", "credits", "date")
KINDS = {
    "course": "course",
    "课程": "course",
    "training": "training",
    "培训": "training",
    "非学历培训": "training",
}
LEARNERS = {
    "student": "student",
    "学生": "student",
    "在校生": "student",
    "staff": "staff",
    "企业职工": "staff",
    "职工": "staff",
    "员工": "staff",
    "public": "public",
    "社会人员": "public",
    "社会学员": "public",
}
ID_TYPES = {
    "resident": "resident",
    "居民身份证": "resident",
    "身份证": "resident",
    "passport": "passport",
    "护照": "passport",
    "hk_macao_permit": "hk_macao_permit",
    "港澳居民来往内地通行证": "hk_macao_permit",
    "港澳居民居住证": "hk_macao_permit",
    "taiwan_permit": "taiwan_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "台湾居民居住证": "taiwan_permit",
    "foreign_permanent": "foreign_permanent",
    "外国人永久居留身份证": "foreign_permanent",
}
MAX_CREDITS = Decimal(100)
_OTHER_ID = re.compile(r"^[A-Z0-9]{5,32}$")
_DATE = re.compile(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})日?$")


@dataclass(frozen=True)
class CreditRow:
    row: int
    id_number: str
    name: str
    kind: CreditEntryKind
    course_code: str
    title: str
    credits: Decimal
    achieved_on: date
    learner: str = "student"

    @property
    def source_ref(self) -> str:
        return f"{self.course_code}@{self.achieved_on.isoformat()}"


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.message}"


@dataclass
class ParsedFile:
    rows: list[CreditRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    total: int = 0
    duplicates: int = 0  # rows repeating an earlier row of the same file exactly


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    conflicts: list[RowProblem] = field(default_factory=list)
    accounts_created: int = 0
    entries: list[CreditEntry] = field(default_factory=list)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def _date(value: object, today: date) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        m = _DATE.match(_text(value).replace(" ", ""))
        if not m:
            raise ValueError(f"{_text(value)!r} is not a date; write it as 2025-06-30")
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise ValueError(f"{_text(value)!r} is not a real date") from None
    if day > today:
        raise ValueError(f"{day.isoformat()} is in the future")
    if day.year < 1950:
        raise ValueError(f"{day.isoformat()} is too far in the past")
    return day


def _credits(value: object) -> Decimal:
    try:
        amount = Decimal(_text(value))
    except InvalidOperation:
        raise ValueError(f"{_text(value)!r} is not a number") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_CREDITS:
        raise ValueError(f"must be more than 0 and at most {MAX_CREDITS}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("at most two decimal places")
    return amount


def _id_number(value: object, id_type: str) -> str:
    if id_type == "resident":
        return parse_resident_id(value).number
    if looks_like_excel_damage(value):
        raise ValueError("the number was stored by Excel as a number; format the column as Text")
    number = normalise(_text(value))
    if not _OTHER_ID.match(number):
        raise ValueError("must be 5 to 32 letters or digits")
    return number


def _row(
    number: int, cells: dict[str, object], today: date
) -> tuple[CreditRow | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}

    def check(column: str, parse: Callable[[], Any]) -> None:
        try:
            values[column] = parse()
        except IdNumberError as exc:
            problems.append(RowProblem(number, column, exc.message))
        except ValueError as exc:
            problems.append(RowProblem(number, column, str(exc)))

    def required(column: str, limit: int) -> Callable[[], str]:
        def parse() -> str:
            text = _text(cells.get(column))
            if not text:
                raise ValueError("empty")
            if len(text) > limit:
                raise ValueError(f"longer than {limit} characters")
            return text

        return parse

    def lookup(column: str, table: dict[str, str], default: str | None) -> Callable[[], str]:
        def parse() -> str:
            text = _text(cells.get(column)).lower()
            if not text and default:
                return default
            if text not in table:
                raise ValueError(f"{text or '(empty)'!r}: use " + ", ".join(sorted(set(table))))
            return table[text]

        return parse

    check("id_type", lookup("id_type", ID_TYPES, "resident"))
    check("id_number", lambda: _id_number(cells.get("id_number"), values.get("id_type", "")))
    check("name", required("name", 64))
    check("kind", lookup("kind", KINDS, None))
    check("course_code", required("course_code", 64))
    check("title", required("title", 256))
    check("credits", lambda: _credits(cells.get("credits")))
    check("date", lambda: _date(cells.get("date"), today))
    check("learner", lookup("learner", LEARNERS, "student"))
    if problems:
        return None, problems
    return CreditRow(
        row=number,
        id_number=values["id_number"],
        name=values["name"],
        kind=CreditEntryKind(values["kind"]),
        course_code=values["course_code"],
        title=values["title"],
        credits=values["credits"],
        achieved_on=values["date"],
        learner=values["learner"],
    ), []


def read_credit_file(path: Path, *, today: date | None = None) -> ParsedFile:
    """Parse and validate every row; problems carry the Excel row number and the column."""
    today = today or datetime.now(UTC).date()
    sheet = read_sheet(path, ALIASES, REQUIRED)
    parsed = ParsedFile(total=len(sheet.rows))
    seen: dict[tuple[str, str, str, date], CreditRow] = {}
    for number, cells in sheet.rows:
        row, problems = _row(number, cells, today)
        parsed.problems.extend(problems)
        if row is None:
            continue
        key = (row.id_number, row.kind.value, row.course_code, row.achieved_on)
        first = seen.get(key)
        if first is None:
            seen[key] = row
            parsed.rows.append(row)
        elif (first.credits, first.title) == (row.credits, row.title):
            parsed.duplicates += 1
        else:
            parsed.problems.append(
                RowProblem(
                    number,
                    "credits",
                    f"repeats row {first.row} ({mask_id(row.id_number)}, "
                    f"{row.course_code}, {row.achieved_on}) with different credits or title",
                )
            )
    return parsed


async def import_rows(
    conn: AsyncConnection,
    rows: Sequence[CreditRow],
    hash_id: Callable[[str], str],
    *,
    now: datetime,
) -> ImportResult:
    """Write validated rows inside the caller's transaction; rows already recorded add nothing."""
    result = ImportResult()
    if not rows:
        return result
    hashes = {r.row: hash_id(r.id_number) for r in rows}
    people = [(hashes[r.row], mask_id(r.id_number), r.name, r.learner) for r in rows]
    known = await accounts_by_hash(conn, hashes.values())
    ids = await ensure_accounts(conn, people, now=now)
    result.accounts_created = len(set(ids) - set(known))
    o = t.learning_outcomes
    existing: dict[tuple[int, str, str], tuple[Any, str]] = {}
    for part in chunks(sorted(set(ids.values()))):
        found = await conn.execute(
            select(o.c.account_id, o.c.kind, o.c.source_ref, o.c.credits, o.c.title).where(
                o.c.account_id.in_(part),
                o.c.source_org == SOURCE,
                o.c.kind.in_(["course", "training"]),
            )
        )
        for f in found:
            existing[(f.account_id, f.kind, f.source_ref)] = (f.credits, f.title)
    outcomes: list[dict[str, Any]] = []
    drafts: list[EntryDraft] = []
    for r in rows:
        account_id = ids[hashes[r.row]]
        old = existing.get((account_id, r.kind.value, r.source_ref))
        if old is not None:
            if credits_text(old[0]) == credits_text(r.credits) and old[1] == r.title:
                result.already += 1
            else:
                result.conflicts.append(
                    RowProblem(
                        r.row,
                        "credits",
                        f"already recorded with {credits_text(old[0])} credits "
                        f"({old[1]}); not changed",
                    )
                )
            continue
        outcomes.append(
            {
                "account_id": account_id,
                "kind": r.kind.value,
                "source_org": SOURCE,
                "source_ref": r.source_ref,
                "title": r.title,
                "credits": r.credits,
                "achieved_on": r.achieved_on,
                "status": "valid",
                "created_at": now,
            }
        )
        drafts.append(
            EntryDraft(
                account_id=account_id,
                kind=r.kind,
                credits=r.credits,
                course_code=r.course_code,
                course_name=r.title,
                source_org=SOURCE,
                source_ref=r.source_ref,
            )
        )
    if outcomes:
        await conn.execute(o.insert(), outcomes)
    result.entries = await append(conn, drafts, now=now)
    result.added = len(result.entries)
    return result
