"""The check -> preview -> submit -> results path, shared by ``xgate check/submit`` and the console.

Invariant: there is one way a staff candidate list becomes registrations, whoever drives it:
``check_for`` (rules, plan, every row's verdict), ``build_preview`` (totals and fees),
``submit_and_report`` (the outbox via ``submit_checked``, then the results workbook beside the
file). The command line and the web console both call these and differ only in how they show
the answer and ask for confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.intake import (
    CheckedFile,
    IntakeOptions,
    load_rules,
    resolve_plan,
    results_path,
    write_results,
)
from gateway.intake.results import RowOutcome
from gateway.runtime import Gateway
from gateway.settings import Settings


def submit_options(settings: Settings, organization: str, allow_ineligible: bool) -> dict[str, Any]:
    """The check options of a submission to ``organization`` (plans of other organizations
    are row problems; every valid row needs a plan)."""
    names = frozenset({organization, settings.organizations[organization].plugin})
    return {
        "organization": organization,
        "organization_names": names,
        "require_plan": True,
        "allow_ineligible": allow_ineligible,
    }


def check_for(
    path: Path, settings: Settings, plan: str | None, options: dict[str, Any]
) -> CheckedFile:
    """Check a file as ``xgate check`` does. Raises ``IntakeFileError`` for a whole-file
    problem, another ``XgateError`` for configuration."""
    from gateway.intake import check_file

    rules = load_rules(settings)
    plan_def = resolve_plan(
        rules.catalogue,
        plan,
        options.get("organization"),
        options.get("organization_names", frozenset()),
    )
    limits = {
        "max_rows": settings.intake_max_rows,
        "max_sheet_bytes": settings.intake_max_sheet_mb * 1024 * 1024,
    }
    return check_file(path, rules, IntakeOptions(plan=plan_def, **{**limits, **options}))


def results_or_error(checked: CheckedFile, outcomes: dict[int, RowOutcome]) -> dict[str, Any]:
    """Write the results workbook: ``{"results_file": path}``, or, when it cannot be written
    (folder read-only, file open in Excel, a folder in the way), ``{"results_file": None,
    "results_error": message}``: the registrations are recorded by then, so this must not
    end in a traceback that hides the summary."""
    target = results_path(checked.path, checked.options.organization)
    try:
        return {"results_file": str(write_results(checked, outcomes, target))}
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc.strerror or exc}"
        return {
            "results_file": None,
            "results_error": (
                f"the registrations were recorded, but the results workbook {target} could "
                f"not be written ({reason}). Close it if it is open (e.g. in Excel) and make "
                "sure the folder is writable, then run the same xgate submit again: rows "
                "already registered are not sent again, and the results workbook is written "
                f"anew / 报名已记录，但结果文件{target}无法写入（{reason}）。如果该文件在Excel"
                "中打开，请先关闭，并确认文件夹可写，然后重新运行同一条 xgate submit 命令："
                "已报名的行不会重复提交，结果文件会重新生成"
            ),
        }


async def submit_and_report(
    gw: Gateway,
    checked: CheckedFile,
    *,
    organization: str,
    plan: str | None,
    operator: str,
    file_sha256: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Register the checked file's valid rows and write the results workbook; the summary
    ``xgate submit --json`` prints (rows, counts, deliveries, results file)."""
    from gateway.intake.submit import submit_checked

    report = await submit_checked(
        gw,
        checked,
        organization=organization,
        operator=operator,
        file_sha256=file_sha256,
        plan_code=plan,
        progress=progress,
    )
    results = results_or_error(checked, report.outcomes)
    return {
        "ok": report.ok and "results_error" not in results,
        "organization": organization,
        "operator": operator,
        "file_sha256": file_sha256,
        "submissions": report.submissions,
        "counts": report.counts(),
        **results,
        "deliveries": [
            {
                "sent": d.sent,
                "accepted": d.accepted,
                "rejected": d.rejected,
                "unknown": d.unknown,
                "deferred": d.deferred,
                "errors": d.errors,
            }
            for d in report.deliveries
        ],
        "rows": [
            {
                "row": row,
                "status": o.status,
                "detail_en": o.detail_en,
                "detail_zh": o.detail_zh,
                "code": o.code,
            }
            for row, o in sorted(report.outcomes.items())
        ],
    }
