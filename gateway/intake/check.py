"""Checking a whole file: open it, check its columns, validate every row, find duplicates.

Pure: no network and no database (``registered.py`` adds the one read ``check`` may make).
The result keeps every row's verdict in file order, which is what the preview, the submission
and the results workbook all work from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.catalogue import Catalogue, PlanDef
from gateway.intake.headers import FIELD_LABELS, aliases_of
from gateway.intake.problems import IntakeFileError, RowProblem, row_problem
from gateway.intake.reader import CandidateFile, Layout, open_candidate_file
from gateway.intake.validate import IntakeOptions, IntakeRules, RowResult, RowValidator, ValidRow


@dataclass
class CheckedFile:
    """A file and the verdict on each of its data rows."""

    source: CandidateFile
    rules: IntakeRules
    options: IntakeOptions
    rows: list[RowResult] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.source.path

    def valid(self) -> Iterator[ValidRow]:
        """Rows that will be sent (valid and not already registered)."""
        for r in self.rows:
            if r.status == "valid" and r.entry is not None:
                yield r.entry

    def problems(self) -> Iterator[RowProblem]:
        for r in self.rows:
            yield from r.problems

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def missing_columns(layout: Layout, options: IntakeOptions) -> list[str]:
    """Columns the file must have: name and ID number, and a way to know the certificate and
    level of each row (a 考核批次 column, ``--plan``, or 证书名称 and 等级 columns)."""
    need = ["name", "id_number"]
    if options.plan is None and "plan" not in layout.columns:
        need += ["certificate", "level"]
    return [f for f in need if f not in layout.columns]


def missing_columns_error(path: Path, missing: list[str]) -> IntakeFileError:
    """The whole-file problem naming each missing column with a few of its aliases."""
    return IntakeFileError(
        "missing_columns",
        file=path.name,
        columns="、".join(
            f"{FIELD_LABELS[f][0]}（{'/'.join(aliases_of(f)[:3])}）" for f in missing
        ),
        columns_en=", ".join(
            f"{FIELD_LABELS[f][1]} ({'/'.join(aliases_of(f)[:3])})" for f in missing
        ),
    )


def resolve_plan(
    catalogue: Catalogue,
    code: str | None,
    organization: str | None = None,
    organization_names: frozenset[str] = frozenset(),
) -> PlanDef | None:
    """The ``--plan`` as a catalogue plan; an unknown code is a whole-file problem."""
    if not code:
        return None
    plan = catalogue.plans.get(code.strip())
    if plan is None:
        known = ", ".join(sorted(catalogue.plans)) or "-"
        raise IntakeFileError("plan_unknown", plan=code, known=known)
    if organization and plan.organization not in (organization_names or {organization}):
        raise IntakeFileError(
            "plan_org_mismatch", plan=plan.code, plan_org=plan.organization, org=organization
        )
    return plan


def check_file(path: Path, rules: IntakeRules, options: IntakeOptions) -> CheckedFile:
    """Read and validate every row. Whole-file problems raise ``IntakeFileError``."""
    source = open_candidate_file(path, max_sheet_bytes=options.max_sheet_bytes)
    try:
        return _check(source, rules, options)
    finally:
        source.close()


def _check(source: CandidateFile, rules: IntakeRules, options: IntakeOptions) -> CheckedFile:
    path = source.path
    missing = missing_columns(source.layout, options)
    if missing:
        raise missing_columns_error(path, missing)
    checked = CheckedFile(source, rules, options)
    validator = RowValidator(source.layout, rules, options)
    first: dict[tuple[str, ...], int] = {}
    limit = options.max_rows
    if limit is not None and source.more_rows_than(limit):  # refused in seconds, not minutes
        raise IntakeFileError("too_many_rows", file=path.name, limit=f"{limit:,}")
    for index, row in enumerate(source.rows(), start=1):
        if limit is not None and index > limit:
            raise IntakeFileError("too_many_rows", file=path.name, limit=f"{limit:,}")
        result = validator.validate(row)
        key = result.dedup_key
        if key is not None:
            if key in first:
                result.problems.append(
                    row_problem(row.number, "id_number", "duplicate", first=first[key])
                )
                result.entry = None
            else:
                first[key] = row.number
        checked.rows.append(result)
    if not checked.rows:
        raise IntakeFileError("no_rows", file=path.name)
    return checked
