"""Reports as JSON documents: what ``--format json`` prints and the console can serve.

Money and credits are two-decimal strings and shares one-decimal percent strings
(``gateway.amounts``), never floats; counts are integers; times are ISO 8601 with their
offset; ID numbers appear only masked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.amounts import two_places
from gateway.reports.coverage import CoverageLine, CoverageReport
from gateway.reports.facts import CREDITS, METRICS, MONEY
from gateway.reports.fees import FeesReport
from gateway.reports.weekly import Breakdown, Figures, WeeklyReport


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _counts(line: CoverageLine) -> dict[str, Any]:
    c = line.counts
    return {
        "enrolled": c.enrolled,
        "certified": c.certified,
        "coverage_percent": _pct(c.share),
        "passed_awaiting_certificate": c.passed,
        "registered_not_passed": c.registered,
        "never_registered": c.never,
        "without_certificate": c.without,
    }


def coverage_document(report: CoverageReport) -> dict[str, Any]:
    s = report.scope
    return {
        "report": "coverage",
        "generated_at": report.generated_at.isoformat(),
        "scope": {"cohort": s.cohort, "department": s.department, "major": s.major},
        "total": _counts(CoverageLine("", "", counts=report.total)),
        "departments": [{"department": x.department, **_counts(x)} for x in report.departments],
        "majors": [
            {"department": x.department, "major": x.major, **_counts(x)} for x in report.majors
        ],
        "classes": [
            {
                "department": x.department,
                "major": x.major,
                "cohort": x.cohort,
                "class": x.class_name,
                **_counts(x),
            }
            for x in report.classes
        ],
        "without_certificate": [
            {
                "student_number": u.student_number,
                "name": u.name,
                "id_masked": u.id_masked,
                "department": u.department,
                "major": u.major,
                "cohort": u.cohort,
                "class": u.class_name,
                "category": u.category,
            }
            for u in report.uncovered
        ],
    }


def figures_document(f: Figures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in METRICS:
        value = f[metric]
        out[metric] = two_places(value) if metric in MONEY | CREDITS else int(value)
    out["pass_rate_percent"] = _pct(f.pass_rate)
    return out


def _breakdown(lines: list[Breakdown], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            **dict(zip(names, line.key, strict=True)),
            "week": figures_document(line.week),
            "previous_week": figures_document(line.previous),
            "school_year": figures_document(line.year),
        }
        for line in lines
    ]


def weekly_document(report: WeeklyReport) -> dict[str, Any]:
    a = report.attention
    w = report.week
    return {
        "report": "weekly",
        "college": report.college,
        "week": w.label,
        "monday": w.monday.isoformat(),
        "sunday": w.sunday.isoformat(),
        "time_zone": "Asia/Shanghai",
        "school_year": report.school_year,
        "generated_at": report.generated_at.isoformat(),
        "quiet": report.quiet,
        "message": "本周无业务活动 / no activity this week" if report.quiet else None,
        "this_week": figures_document(report.this_week),
        "previous_week": figures_document(report.previous_week),
        "change": {
            m: (two_places(d) if m in MONEY | CREDITS else int(d))
            for m in METRICS
            for d in [report.this_week[m] - report.previous_week[m]]
        },
        "school_year_to_date": figures_document(report.year_to_date),
        "by_organization": _breakdown(report.by_organization, ("organization",)),
        "by_certificate": _breakdown(report.by_certificate, ("organization", "certificate")),
        "by_major": _breakdown(report.by_major, ("department", "major")),
        "trend": [
            {"week": wk.label, "monday": wk.monday.isoformat(), **figures_document(f)}
            for wk, f in report.trend
        ],
        "coverage_by_major": [
            {"department": x.department, "major": x.major, **_counts(x)}
            for x in report.coverage_by_major
        ],
        "attention": {
            "failed_syncs": a.failed_syncs,
            "failures": [
                {
                    "organization": f.organization,
                    "stream": f.stream,
                    "started_at": f.started_at.isoformat(),
                    "error": f.error,
                }
                for f in a.failures
            ],
            "quarantined_this_week": a.quarantined_week,
            "quarantined_total": a.quarantined_total,
            "unsettled_registrations": a.unsettled,
            "unsettled_total": a.unsettled_total,
        },
    }


def fees_document(report: FeesReport) -> dict[str, Any]:
    return {
        "report": "fees",
        "generated_at": report.generated_at.isoformat(),
        "scope": {"plan": report.plan, "organization": report.organization},
        "currency": "CNY",
        "totals": {
            "registrations": sum(x.registrations for x in report.lines),
            "waived_count": sum(x.waived_count for x in report.lines),
            "charged": two_places(report.charged),
            "waived": two_places(report.waived),
        },
        "by_plan": [
            {
                "organization": x.organization,
                "plan": x.plan_code,
                "certificate": x.certificate,
                "level": x.level,
                "registrations": x.registrations,
                "waived_count": x.waived_count,
                "charged": two_places(x.charged),
                "waived": two_places(x.waived),
            }
            for x in report.lines
        ],
        "by_basis": [
            {
                "basis": b.basis,
                "students": b.students,
                "registrations": b.registrations,
                "waived": two_places(b.waived),
            }
            for b in report.bases
        ],
        "waived_students": [
            {
                "name": s.name,
                "student_number": s.student_number,
                "id_masked": s.id_masked,
                "department": s.department,
                "major": s.major,
                "class": s.class_name,
                "basis": s.basis,
                "organization": s.organization,
                "plan": s.plan_code,
                "certificate": s.certificate,
                "fee": two_places(s.fee),
            }
            for s in report.students
        ],
    }
