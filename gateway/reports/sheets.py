"""Reports as tables with Chinese headers: what the terminal, CSV and the workbook show.

A ``Sheet`` is a title, headers and rows of plain values (text, int, ``Decimal`` money and
credits, ``Decimal`` percentages, dates); the renderers decide how each looks. Keeping the
tables here means the CLI, the files and (later) the web console show the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.models import Level
from gateway.reports.coverage import CoverageLine, CoverageReport
from gateway.reports.facts import METRICS
from gateway.reports.fees import UNRECORDED, FeesReport
from gateway.reports.weekly import Breakdown, Figures, WeeklyReport
from gateway.roster.model import WAIVER_BASES

METRIC_LABELS: dict[str, str] = {
    "registrations": "报名人次",
    "withdrawn": "撤销报名",
    "sat": "参考人次",
    "absent": "缺考人次",
    "passed": "通过人次",
    "certificates_issued": "发证数",
    "certificates_revoked": "撤销证书",
    "credits_converted": "转换学分",
    "credits_reversed": "冲销学分",
    "fees_charged": "收费（元）",
    "fees_waived": "减免（元）",
    "waived_students": "减免人次",
}
PASS_RATE = "通过率（%）"
CATEGORY_LABELS = {
    "certified": "已获证",
    "passed": "已通过待发证",
    "registered": "已报名未通过",
    "never": "从未报名",
}
UNSETTLED_LABELS = {"pending": "待发送", "sent": "已发送待回复", "unknown": "结果待确认"}
DIMENSION_LABELS = {
    "organization": "培训评价组织",
    "certificate": "证书",
    "department": "院系",
    "major": "专业",
}


@dataclass
class Sheet:
    name: str  # at most 31 characters (Excel's limit)
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


def basis_label(code: str | None) -> str:
    if code is None or code == UNRECORDED:
        return "未登记依据"
    return WAIVER_BASES.get(code, code)


# --- coverage -------------------------------------------------------------------------------

COVERAGE_COUNTS = ["在读人数", "已获证", "获证率（%）", "已通过待发证", "已报名未通过", "从未报名"]


def _counts(line: CoverageLine) -> list[Any]:
    c = line.counts
    return [c.enrolled, c.certified, c.share, c.passed, c.registered, c.never]


def coverage_sheets(report: CoverageReport) -> list[Sheet]:
    by_major = Sheet("按专业", ["院系", "专业", *COVERAGE_COUNTS])
    by_major.rows = [[x.department, x.major, *_counts(x)] for x in report.majors]
    total = CoverageLine("合计", "", counts=report.total)
    by_major.rows.append(["合计", "", *_counts(total)])
    by_class = Sheet("按班级", ["院系", "专业", "年级", "班级", *COVERAGE_COUNTS])
    by_class.rows = [
        [x.department, x.major, x.cohort, x.class_name or "", *_counts(x)] for x in report.classes
    ]
    by_dept = Sheet("按院系", ["院系", *COVERAGE_COUNTS])
    by_dept.rows = [[x.department, *_counts(x)] for x in report.departments]
    students = Sheet(
        "未获证学生",
        ["院系", "专业", "年级", "班级", "学号", "姓名", "证件号码（脱敏）", "情况"],
    )
    students.rows = [
        [
            s.department,
            s.major,
            s.cohort,
            s.class_name or "",
            s.student_number,
            s.name,
            s.id_masked,
            CATEGORY_LABELS[s.category],
        ]
        for s in report.uncovered
    ]
    return [by_major, by_class, by_dept, students]


# --- weekly ---------------------------------------------------------------------------------


def _change(now: Decimal, before: Decimal) -> Decimal:
    return now - before


def overview_sheet(report: WeeklyReport) -> Sheet:
    sheet = Sheet("总览", ["指标", "本周", "上周", "较上周", "学年累计"])
    w, p, y = report.this_week, report.previous_week, report.year_to_date
    for metric in METRICS:
        sheet.rows.append(
            [METRIC_LABELS[metric], w[metric], p[metric], _change(w[metric], p[metric]), y[metric]]
        )
        if metric == "passed":
            change = None
            if w.pass_rate is not None and p.pass_rate is not None:
                change = w.pass_rate - p.pass_rate
            sheet.rows.append([PASS_RATE, w.pass_rate, p.pass_rate, change, y.pass_rate])
    if report.quiet:
        sheet.note = (
            f"{report.week.label}（{report.week.monday}至{report.week.sunday}）本周无业务活动"
        )
    return sheet


def _figures(f: Figures) -> list[Any]:
    return [*(f[m] for m in METRICS), f.pass_rate]


def breakdown_sheet(name: str, dims: tuple[str, ...], lines: list[Breakdown]) -> Sheet:
    labels = [*(METRIC_LABELS[m] for m in METRICS), PASS_RATE]
    sheet = Sheet(
        name,
        [
            *(DIMENSION_LABELS[d] for d in dims),
            *(f"本周{x}" for x in labels),
            *(f"上周{x}" for x in labels),
            *(f"学年累计{x}" for x in labels),
        ],
    )
    for line in lines:
        sheet.rows.append(
            [*line.key, *_figures(line.week), *_figures(line.previous), *_figures(line.year)]
        )
    return sheet


TREND_METRICS = ("registrations", "sat", "passed", "certificates_issued")


def trend_sheet(report: WeeklyReport) -> Sheet:
    sheet = Sheet(
        "周趋势",
        ["周次", "周一", *(METRIC_LABELS[m] for m in TREND_METRICS), "转换学分", "收费（元）"],
    )
    for week, f in report.trend:
        sheet.rows.append(
            [
                week.label,
                week.monday,
                *(f[m] for m in TREND_METRICS),
                f["credits_converted"],
                f["fees_charged"],
            ]
        )
    return sheet


def coverage_by_major_sheet(report: WeeklyReport) -> Sheet:
    sheet = Sheet("专业覆盖率", ["院系", "专业", *COVERAGE_COUNTS])
    sheet.rows = [[x.department, x.major, *_counts(x)] for x in report.coverage_by_major]
    return sheet


def attention_sheet(report: WeeklyReport) -> Sheet:
    a = report.attention
    sheet = Sheet("需关注", ["事项", "数量", "组织", "数据流", "开始时间", "错误"])
    sheet.rows.append(["本周同步失败（数据流）", a.failed_syncs, "", "", None, ""])
    for f in a.failures:
        sheet.rows.append(["", None, f.organization, f.stream, f.started_at, f.error])
    sheet.rows.append(["本周隔离记录", a.quarantined_week, "", "", None, ""])
    sheet.rows.append(["隔离记录总数", a.quarantined_total, "", "", None, ""])
    for status, label in UNSETTLED_LABELS.items():
        sheet.rows.append([f"未结报名：{label}", a.unsettled.get(status, 0), "", "", None, ""])
    return sheet


def weekly_sheets(report: WeeklyReport) -> list[Sheet]:
    return [
        overview_sheet(report),
        breakdown_sheet("按组织", ("organization",), report.by_organization),
        breakdown_sheet("按证书", ("organization", "certificate"), report.by_certificate),
        breakdown_sheet("按院系专业", ("department", "major"), report.by_major),
        trend_sheet(report),
        coverage_by_major_sheet(report),
        attention_sheet(report),
    ]


# --- fees -----------------------------------------------------------------------------------


def fees_sheets(report: FeesReport) -> list[Sheet]:
    plans = Sheet(
        "按考核批次",
        [
            "培训评价组织",
            "考核批次",
            "证书",
            "等级",
            "报名人次",
            "减免人次",
            "收费（元）",
            "减免（元）",
        ],
    )
    for x in report.lines:
        level = Level(x.level).label if x.level in (1, 2, 3) else ""
        plans.rows.append(
            [
                x.organization,
                x.plan_code,
                x.certificate,
                level,
                x.registrations,
                x.waived_count,
                x.charged,
                x.waived,
            ]
        )
    plans.rows.append(
        [
            "合计",
            "",
            "",
            "",
            sum(x.registrations for x in report.lines),
            sum(x.waived_count for x in report.lines),
            report.charged,
            report.waived,
        ]
    )
    bases = Sheet("减免依据", ["减免依据", "人数", "人次", "减免（元）"])
    bases.rows = [
        [basis_label(b.basis), b.students, b.registrations, b.waived] for b in report.bases
    ]
    students = Sheet(
        "减免学生名单",
        [
            "姓名",
            "学号",
            "证件号码（脱敏）",
            "院系",
            "专业",
            "班级",
            "减免依据",
            "培训评价组织",
            "考核批次",
            "证书",
            "减免（元）",
        ],
    )
    students.rows = [
        [
            s.name,
            s.student_number or "",
            s.id_masked or "",
            s.department or "",
            s.major or "",
            s.class_name or "",
            basis_label(s.basis),
            s.organization,
            s.plan_code,
            s.certificate,
            s.fee,
        ]
        for s in report.students
    ]
    return [plans, bases, students]
