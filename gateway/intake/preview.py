"""The preview staff see before anything is sent: what goes where, what it costs, what is wrong.

Totals are per certificate, level and plan: how many candidates, how much is charged and how
much is waived for economically disadvantaged students. The same data feeds the rich table
and ``--json``; it holds masked ID numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.amounts import money_text
from gateway.intake.check import CheckedFile
from gateway.intake.problems import RowProblem
from gateway.models import Level


@dataclass
class PreviewLine:
    certificate_code: str
    certificate_name: str
    level: Level
    plan_code: str | None
    count: int = 0
    waived_count: int = 0
    charged: Decimal = Decimal(0)
    waived: Decimal = Decimal(0)
    unpriced: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "certificate_code": self.certificate_code,
            "certificate": self.certificate_name,
            "level": int(self.level),
            "level_label": self.level.label,
            "plan": self.plan_code,
            "count": self.count,
            "waived_count": self.waived_count,
            "charged": money_text(self.charged),
            "waived": money_text(self.waived),
            "unpriced": self.unpriced,
        }


@dataclass
class Preview:
    file: str
    format: str
    sheet: str | None
    encoding: str | None
    header_row: int
    rows_total: int
    valid: int
    invalid: int
    skipped: int
    lines: list[PreviewLine]
    currency: str | None
    problems: list[RowProblem]
    skipped_rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def charged(self) -> Decimal:
        return sum((line.charged for line in self.lines), Decimal(0))

    @property
    def waived(self) -> Decimal:
        return sum((line.waived for line in self.lines), Decimal(0))

    @property
    def unpriced(self) -> int:
        return sum(line.unpriced for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "sheet": self.sheet,
            "encoding": self.encoding,
            "header_row": self.header_row,
            "rows": {
                "total": self.rows_total,
                "valid": self.valid,
                "invalid": self.invalid,
                "skipped": self.skipped,
            },
            "by_certificate": [line.as_dict() for line in self.lines],
            "totals": {
                "count": self.valid,
                "charged": money_text(self.charged),
                "waived": money_text(self.waived),
                "unpriced": self.unpriced,
                "currency": self.currency,
            },
            "problems": [p.as_dict() for p in self.problems],
            "skipped_rows": self.skipped_rows,
            "notes": self.notes,
        }


def build_preview(checked: CheckedFile) -> Preview:
    """Totals over the rows that would be sent (valid, not already registered)."""
    lines: dict[tuple[str, Level, str | None], PreviewLine] = {}
    for entry in checked.valid():
        plan = entry.plan.code if entry.plan else None
        key = (entry.certificate_code, entry.level, plan)
        line = lines.get(key)
        if line is None:
            line = lines[key] = PreviewLine(
                entry.certificate_code, entry.certificate_name, entry.level, plan
            )
        line.count += 1
        line.waived_count += entry.fee_waived
        if entry.fee is None:
            line.unpriced += 1
        elif entry.fee_waived:
            line.waived += entry.fee
        else:
            line.charged += entry.fee
    source = checked.source
    layout = source.layout
    notes = []
    if layout.ignored:
        notes.append("ignored columns / 未使用的列: " + ", ".join(layout.ignored))
    if layout.repeated:
        notes.append(
            "repeated columns, first one used / 重复的列（只用第一列）: "
            + ", ".join(layout.repeated)
        )
    if checked.rules.fees is None:
        notes.append("no fee schedule configured (fees_file) / 未配置收费标准")
    if checked.rules.eligibility is None:
        notes.append(
            "no major-certificate mapping configured (eligibility_file); eligibility "
            "not checked / 未配置专业与证书对应表，未检查报考资格"
        )
    overridden = sum(1 for e in checked.valid() if e.eligibility_overridden)
    if overridden:
        notes.append(f"eligibility overridden for {overridden} rows / {overridden}行跨专业报考")
    skipped_rows = [
        {
            "row": r.row,
            "name": r.name,
            "id": r.id_masked,
            "message_zh": r.skip[0],
            "message_en": r.skip[1],
        }
        for r in checked.rows
        if r.status == "skipped" and r.skip
    ]
    ordered = sorted(lines.values(), key=lambda x: (x.certificate_code, x.level, x.plan_code or ""))
    return Preview(
        file=source.path.name,
        format=source.kind,
        sheet=source.sheet,
        encoding=source.encoding,
        header_row=layout.header_row,
        rows_total=len(checked.rows),
        valid=checked.count("valid"),
        invalid=checked.count("invalid"),
        skipped=checked.count("skipped"),
        lines=ordered,
        currency=checked.rules.fees.currency if checked.rules.fees else None,
        problems=list(checked.problems()),
        skipped_rows=skipped_rows,
        notes=notes,
    )
