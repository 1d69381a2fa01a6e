"""``xgate report``: coverage, the weekly progress report, fees and waivers.

The figures are computed in ``gateway.reports`` and rendered here: a table on the terminal,
or ``--format json|xlsx|csv`` (``--output FILE``; JSON goes to stdout without it). Files are
written atomically, with Chinese headers and every text cell escaped against formulas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.output import EXIT_CONFIG, EXIT_INPUT, console, dumps, fail, run_async, table
from gateway.errors import XgateError

if TYPE_CHECKING:  # the reports import the models and the roster: only a report needs them
    from gateway.reports.sheets import Sheet

app = typer.Typer(
    help="Reports: coverage, weekly progress, fees and waivers.", no_args_is_help=True
)
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="file to write")]
SHOWN = 40


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    XLSX = "xlsx"
    CSV = "csv"


def _run(compute: Any) -> Any:
    async def go() -> Any:

        async with state.open_existing() as gw, gw.db.connect() as conn:
            return await compute(gw, conn)

    return run_async(go)


def _show(sheet: Sheet, limit: int | None = None) -> None:
    rows = sheet.rows if limit is None else sheet.rows[:limit]
    table(sheet.name, sheet.headers, rows)
    if limit is not None and len(sheet.rows) > limit:
        console.print(f"... and {len(sheet.rows) - limit} more rows (xlsx/csv/json list them all)")
    if sheet.note:
        console.print(sheet.note, highlight=False)


def _json(data: dict[str, Any], output: Path | None) -> None:
    from gateway.cli.output import print_json

    if output is None:
        print_json(data)
        return
    from gateway.cli.output import _masked, write_private

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot write {output}: {exc}", EXIT_INPUT)
    write_private(output, dumps(_masked(data)) + "\n")
    console.print(f"wrote {output}", highlight=False)


def _default_output(name: str, fmt: Format) -> Path:
    return Path(f"{name}-{datetime.now(UTC):%Y%m%d}.{fmt.value}")


@app.command("coverage")
def coverage(
    grade: Annotated[
        int | None, typer.Option("--grade", help="cohort (入学年份), e.g. 2024")
    ] = None,
    department: Annotated[str | None, typer.Option("--department", help="院系")] = None,
    major: Annotated[str | None, typer.Option("--major", help="专业")] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="table, json, xlsx or csv")
    ] = Format.TABLE,
    output: OutputOpt = None,
) -> None:
    """Certificate coverage of enrolled (在读) students per department, major, class, cohort;
    and who has no certificate yet."""
    from gateway.reports.coverage import Scope, coverage_report
    from gateway.reports.documents import coverage_document
    from gateway.reports.sheets import coverage_sheets

    scope = Scope(grade, department, major)
    report = _run(lambda gw, conn: coverage_report(conn, scope))
    if fmt is Format.JSON:
        _json(coverage_document(report), output)
        return
    sheets = coverage_sheets(report)
    if fmt is Format.TABLE:
        _show(sheets[2])
        _show(sheets[0])
        console.print(
            f"{report.total.without} enrolled students without a certificate "
            "(--format xlsx|csv|json lists them) / 未获证学生名单见导出文件",
            highlight=False,
        )
        if not report.total.enrolled:
            console.print("no enrolled students on the roster: run `xgate roster import FILE`")
        return
    from gateway.reports.workbook import write_coverage_xlsx, write_csv  # openpyxl: files only

    target = output or _default_output("coverage", fmt)
    if fmt is Format.XLSX:
        _write(lambda: write_coverage_xlsx(report, target), target)
    else:
        _write(lambda: write_csv(sheets[1], target), target)


def _write(action: Any, target: Path) -> None:
    try:
        action()
    except OSError as exc:
        fail(f"cannot write {target}: {exc}", EXIT_INPUT)
    console.print(f"wrote {target}", highlight=False)


@app.command("weekly")
def weekly(
    week: Annotated[
        str | None,
        typer.Option("--week", help="ISO week, e.g. 2026-W49 (default: the last full week)"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="xlsx, json or table")] = Format.XLSX,
    output: OutputOpt = None,
    email: Annotated[
        bool, typer.Option("--email", help="send the workbook to [report.email] recipients")
    ] = False,
) -> None:
    """The weekly progress report (Monday to Sunday, Asia/Shanghai): week, previous week and
    school year; per organization, certificate and major; trend; what needs attention."""
    from gateway.reports.documents import weekly_document
    from gateway.reports.period import last_full_week, parse_week
    from gateway.reports.sheets import weekly_sheets
    from gateway.reports.weekly import weekly_report
    from gateway.reports.workbook import write_weekly_xlsx
    from gateway.settings import load_settings

    try:
        the_week = parse_week(week) if week else last_full_week()
        settings = load_settings(state.CONFIG)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    if email and settings.report.email is None:
        fail("--email needs a [report.email] section in the settings", EXIT_CONFIG)
    if email and fmt is not Format.XLSX:
        fail("--email sends the workbook: use --format xlsx", EXIT_INPUT)
    report = _run(
        lambda gw, conn: weekly_report(conn, the_week, college=gw.settings.report.college)
    )
    if fmt is Format.JSON:
        _json(weekly_document(report), output)
        return
    if fmt is Format.TABLE or fmt is Format.CSV:
        sheets = weekly_sheets(report)
        if fmt is Format.CSV:
            from gateway.reports.workbook import write_csv

            target = output or Path(f"weekly-{the_week.label}.csv")
            _write(lambda: write_csv(sheets[0], target), target)
            return
        console.print(
            f"{report.college or ''} {the_week.label} ({the_week.monday} - {the_week.sunday}, "
            f"Asia/Shanghai), school year {report.school_year}",
            highlight=False,
        )
        _show(sheets[0])
        _show(sheets[-1])
        return
    target = output or Path(f"weekly-{the_week.label}.xlsx")
    _write(lambda: write_weekly_xlsx(report, target), target)
    if report.quiet:
        console.print(f"{the_week.label}: no activity this week / 本周无业务活动", highlight=False)
    if email and settings.report.email is not None:
        from gateway.reports.mail import send_report, weekly_message

        mail = settings.report.email
        message = weekly_message(report, target, mail)
        run_async(lambda: send_report(message, mail))
        console.print(f"sent to {len(mail.recipients)} recipient(s)", highlight=False)


@app.command("fees")
def fees(
    plan: Annotated[str | None, typer.Option("--plan", help="one exam plan (考核批次)")] = None,
    org: Annotated[str | None, typer.Option("--org", help="one organization")] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="table, json, xlsx or csv")
    ] = Format.TABLE,
    output: OutputOpt = None,
) -> None:
    """Fees charged and waived per exam plan and certificate, per waiver basis, and the list
    of waived students (masked) for the finance office."""
    from gateway.reports.documents import fees_document
    from gateway.reports.fees import fees_report, plan_known
    from gateway.reports.sheets import fees_sheets

    if plan is not None and not _run(lambda gw, conn: plan_known(conn, plan, org)):
        where = f" of {org}" if org else ""
        fail(f"--plan {plan!r}: no such exam plan{where} / 没有该考核批次", EXIT_INPUT)
    report = _run(lambda gw, conn: fees_report(conn, plan=plan, organization=org))
    if fmt is Format.JSON:
        _json(fees_document(report), output)
        return
    sheets = fees_sheets(report)
    if fmt is Format.TABLE:
        _show(sheets[0])
        _show(sheets[1])
        _show(sheets[2], SHOWN)
        return
    from gateway.reports.workbook import write_csv, write_fees_xlsx  # openpyxl: files only

    target = output or _default_output("fees", fmt)
    if fmt is Format.XLSX:
        _write(lambda: write_fees_xlsx(report, target), target)
    else:
        _write(lambda: write_csv(sheets[2], target), target)
