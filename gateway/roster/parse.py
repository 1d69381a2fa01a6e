"""Reading the registrar's export: every row checked, every problem named by row and column.

The file is opened by the candidate-list reader (``gateway.intake.reader``: xlsx or csv,
UTF-8/GB18030, title rows above the header) and columns are found through the same header
aliases; identities are read by the same function candidate lists use, and problems are the
same ``RowProblem`` messages in Chinese and English. Nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway.intake.check import missing_columns_error
from gateway.intake.problems import IntakeFileError, RowProblem, row_problem
from gateway.intake.reader import SourceRow, open_candidate_file
from gateway.intake.validate import clean, read_identity, read_name
from gateway.roster.model import ENROLLED, RosterRow, parse_status, parse_waiver_basis

REQUIRED = ("student_number", "name", "id_number", "department", "major", "cohort")
_COHORT = re.compile(r"^(\d{4})(?:级|年|届)?(?:[-/.年]\d{1,2}(?:[-/.月]\d{1,2}日?)?)?$")
#: (field, longest accepted text)
_TEXT_LIMITS = (
    ("student_number", 64),
    ("department", 128),
    ("major", 128),
    ("class_name", 128),
    ("major_code", 16),
)


@dataclass
class ParsedRoster:
    """The file's valid rows and every problem; ``rows_total`` counts non-blank data rows."""

    file: str
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows_total: int = 0
    status_column: bool = True


def read_roster(path: Path, *, today: date | None = None) -> ParsedRoster:
    """Read and check the whole roster file; whole-file problems raise ``IntakeFileError``."""
    this_year = (today or datetime.now(UTC).date()).year
    with open_candidate_file(path) as source:
        columns = source.layout.columns
        missing = [f for f in REQUIRED if f not in columns]
        if missing:
            raise missing_columns_error(path, missing)
        parsed = ParsedRoster(path.name, status_column="roster_status" in columns)
        by_number: dict[str, int] = {}
        by_id: dict[str, int] = {}
        for source_row in source.rows():
            parsed.rows_total += 1
            row, problems = _row(source_row, columns, this_year)
            if row is not None:
                first = by_number.setdefault(row.student_number, row.row)
                if first != row.row:
                    problems.append(
                        row_problem(
                            row.row, "student_number", "roster_duplicate_number", first=first
                        )
                    )
                first = by_id.setdefault(row.id_number, row.row)
                if first != row.row:
                    problems.append(
                        row_problem(row.row, "id_number", "roster_duplicate_id", first=first)
                    )
            parsed.problems.extend(problems)
            if row is not None and not problems:
                parsed.rows.append(row)
    if not parsed.rows_total:
        raise IntakeFileError("no_rows", file=path.name)
    return parsed


def _row(
    source: SourceRow, columns: dict[str, int], this_year: int
) -> tuple[RosterRow | None, list[RowProblem]]:
    n = source.number
    problems: list[RowProblem] = []

    def cell(name: str) -> Any:
        return source.get(columns.get(name))

    def text(name: str) -> str:
        return clean(cell(name))

    name = read_name(n, text("name"), problems)
    _, id_number, _ = read_identity(n, text("id_type"), cell("id_number"), problems)
    values: dict[str, str] = {}
    for column, limit in _TEXT_LIMITS:
        value = text(column)
        if not value and column in REQUIRED:
            problems.append(row_problem(n, column, "value_missing"))
        elif len(value) > limit:
            problems.append(row_problem(n, column, "too_long", limit=limit, length=len(value)))
        values[column] = value
    cohort = _cohort(n, cell("cohort"), this_year, problems)
    status = ENROLLED
    if "roster_status" in columns:
        found = parse_status(text("roster_status"))
        if found is None:
            value = text("roster_status")
            problems.append(row_problem(n, "roster_status", "roster_status_unknown", value=value))
        status = found or ENROLLED
    years = _program_years(n, text("program_years"), problems)
    understood, basis = parse_waiver_basis(text("waiver_basis"))
    if not understood:
        value = text("waiver_basis")
        problems.append(row_problem(n, "waiver_basis", "waiver_basis_unknown", value=value))
    if problems or cohort is None:
        return None, problems
    return RosterRow(
        row=n,
        student_number=values["student_number"],
        name=name,
        id_number=id_number,
        department=values["department"],
        major=values["major"],
        cohort=cohort,
        status=status,
        class_name=values["class_name"] or None,
        major_code=values["major_code"] or None,
        program_years=years,
        waiver_basis=basis,
    ), problems


def _cohort(n: int, raw: Any, this_year: int, problems: list[RowProblem]) -> int | None:
    """年级 / 入学年份: ``2024``, ``2024级``, ``2024-09-01`` or a date cell -> 2024."""
    if isinstance(raw, datetime | date):
        year: int | None = raw.year
    else:
        value = clean(raw)
        if not value:
            problems.append(row_problem(n, "cohort", "value_missing"))
            return None
        match = _COHORT.match(value.replace(" ", ""))
        year = int(match[1]) if match else None
    if year is None or not 1980 <= year <= this_year + 1:
        problems.append(row_problem(n, "cohort", "cohort_invalid", value=clean(raw)))
        return None
    return year


def _program_years(n: int, value: str, problems: list[RowProblem]) -> int | None:
    if not value:
        return None
    digits = value.removesuffix("年")
    if digits.isdigit() and 2 <= int(digits) <= 5:
        return int(digits)
    problems.append(row_problem(n, "program_years", "program_years_invalid", value=value))
    return None
