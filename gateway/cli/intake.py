"""``xgate check`` and ``xgate submit``: staff candidate files.

``check`` validates only (no network, no writes; it reads registrations when a database
already exists). ``submit`` shows the same preview, asks for confirmation (``--yes`` skips
it, ``--dry-run`` stops there), sends the valid rows through the outbox, and writes the
results workbook beside the file. Exit codes: 0 every row fine; 1 some rows invalid,
rejected or not settled; 2 a whole-file problem (nothing written); 3 configuration.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    EXIT_INPUT,
    console,
    fail,
    print_json,
    run_async,
    table,
)
from gateway.errors import XgateError

if TYPE_CHECKING:  # intake reads workbooks (openpyxl) and validates models: only a run needs it
    from gateway.intake import CheckedFile, IntakeFileError, Preview
    from gateway.settings import Settings

FileArg = Annotated[Path, typer.Argument(help="candidate list (.xlsx or .csv)", show_default=False)]
SKIPPED_SHOWN = 20  # skipped rows are not problems: the table shows the first few
PROBLEMS_SHOWN = 50  # a terminal shows the first problems; --json and the workbook have all
IneligibleOpt = Annotated[
    bool,
    typer.Option(
        "--allow-ineligible",
        help="accept rows whose major is not mapped to the certificate (whole file; per row: "
        "an 允许跨专业报考 column)",
    ),
]


def _settings() -> Settings:
    from gateway.settings import load_settings

    try:
        return load_settings(state.CONFIG)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)


def _file_error(exc: IntakeFileError, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"ok": False, "error": exc.as_dict()})
    fail(str(exc), exc.exit_code)


def _check(
    path: Path, settings: Settings, plan: str | None, options: dict[str, Any], as_json: bool
) -> CheckedFile:
    from gateway.intake import IntakeFileError
    from gateway.intake.flow import check_for
    from gateway.intake.registered import mark_registered_if_possible

    try:
        checked = check_for(path, settings, plan, options)
    except IntakeFileError as exc:
        _file_error(exc, as_json)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    run_async(lambda: mark_registered_if_possible(checked, settings))
    return checked


def _money(value: Any) -> str:
    return f"{value:,.2f}"


def show_preview(preview: Preview) -> None:
    """The preview as tables: per certificate and level, then every problem."""
    where = f"sheet {preview.sheet}" if preview.sheet else f"encoding {preview.encoding}"
    console.print(
        f"{preview.file} ({preview.format}, {where}, header row {preview.header_row})",
        highlight=False,
    )
    cur = preview.currency or ""
    table(
        "to be sent / 待提交",
        [
            "证书 certificate",
            "等级 level",
            "考核批次 plan",
            "人数 count",
            "免费 waived",
            f"收费 charged {cur}",
            f"减免 waived {cur}",
        ],
        [
            [
                f"{line.certificate_name} ({line.certificate_code})",
                line.level.label,
                line.plan_code or "-",
                line.count,
                line.waived_count,
                _money(line.charged) + (f" (+{line.unpriced} unpriced)" if line.unpriced else ""),
                _money(line.waived),
            ]
            for line in preview.lines
        ]
        + [
            [
                "total / 合计",
                "",
                "",
                preview.valid,
                sum(line.waived_count for line in preview.lines),
                _money(preview.charged),
                _money(preview.waived),
            ]
        ],
    )
    _show_problems(preview)
    _show_skipped(preview)
    for note in preview.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(
        f"{preview.rows_total} rows: {preview.valid} valid, {preview.invalid} invalid, "
        f"{preview.skipped} skipped (already registered) / 共{preview.rows_total}行：有效"
        f"{preview.valid}行，有误{preview.invalid}行，跳过{preview.skipped}行",
        highlight=False,
    )


def _show_problems(preview: Preview) -> None:
    """The first problems, and how many more there are (all of them are in --json)."""
    if preview.problems:
        console.print(f"problems / 问题 ({len(preview.problems)}):", style="bold")
        for p in preview.problems[:PROBLEMS_SHOWN]:
            console.print(
                f"  {p.message_zh}\n    {p.message_en} [{p.code}]", highlight=False, markup=False
            )
        more = len(preview.problems) - PROBLEMS_SHOWN
        if more > 0:
            console.print(
                f"... and {more} more problems: the full list is in --json "
                f"(xgate check FILE --json > problems.json) and in the results workbook / "
                f"另有{more}个问题未列出：完整列表见 --json 输出或结果文件",
                highlight=False,
                markup=False,
            )


def _show_skipped(preview: Preview) -> None:
    if preview.skipped_rows:
        shown = preview.skipped_rows[:SKIPPED_SHOWN]
        table(
            "skipped / 跳过",
            ["行 row", "姓名 name", "证件号码 ID", "说明 message"],
            [
                [s["row"], s["name"], s["id"], f"{s['message_zh']}\n{s['message_en']}"]
                for s in shown
            ],
        )
        if len(preview.skipped_rows) > len(shown):
            more = len(preview.skipped_rows) - len(shown)
            console.print(f"... and {more} more skipped rows (--json lists them all)")


def check(
    file: FileArg,
    plan: Annotated[
        str | None, typer.Option("--plan", help="exam plan (考核批次) every row is for")
    ] = None,
    allow_ineligible: IneligibleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a candidate file: every row's problems, totals and fees. Sends and writes
    nothing. Exit 0 all rows valid, 1 some rows invalid, 2 the file itself is unusable."""
    from gateway.intake import build_preview

    settings = _settings()
    options = {"allow_ineligible": allow_ineligible, "keep_candidates": False}
    checked = _check(file, settings, plan, options, as_json)
    preview = build_preview(checked)
    if as_json:
        print_json({"ok": preview.invalid == 0, **preview.as_dict()})
    else:
        show_preview(preview)
    if preview.invalid:
        raise typer.Exit(EXIT_FAILURES)


def submit(
    file: FileArg,
    org: Annotated[str, typer.Option("--org", help="organization to register with")],
    plan: Annotated[
        str | None,
        typer.Option(
            "--plan",
            help="exam plan (考核批次); optional when the file has a 考核批次 "
            "column or the catalogue has one plan per certificate and level",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the preview only; send and write nothing")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    operator: Annotated[
        str | None, typer.Option("--operator", help="who submits (default: the OS user)")
    ] = None,
    allow_ineligible: IneligibleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a candidate file's valid rows with an organization, and write
    <file>.<org>.results.xlsx beside it. Exit 0 all accepted (or already registered), 1 some rows
    invalid, rejected or not settled, 2 the file itself is unusable."""
    from gateway.intake import build_preview
    from gateway.intake.audit import default_operator
    from gateway.intake.flow import submit_options

    settings = _settings()
    if org not in settings.organizations:
        known = ", ".join(sorted(settings.organizations)) or "none"
        fail(f"organization {org!r} is not configured (configured: {known})", EXIT_CONFIG)
    if as_json and not (yes or dry_run):
        fail("--json needs --yes or --dry-run (there is no one to confirm)", EXIT_INPUT)
    options = submit_options(settings, org, allow_ineligible)
    checked = _check(file, settings, plan, options, as_json)
    preview = build_preview(checked)
    if dry_run or not preview.valid:
        _nothing_sent(checked, preview, dry_run=dry_run, as_json=as_json)
        return
    if not yes and not _confirmed(preview, org):
        console.print("not sent / 未提交")
        return
    bar = not as_json and sys.stdout.isatty()
    data = _submit(
        checked,
        settings,
        org,
        plan,
        operator or default_operator(),
        show_progress=bar,
        total=preview.valid,
    )
    data["preview"] = preview.as_dict()
    if as_json:
        print_json(data)
    else:
        _show_submission(data)
    if "results_error" in data:
        fail(data["results_error"], EXIT_FAILURES)
    if not data["ok"]:
        raise typer.Exit(EXIT_FAILURES)


def _nothing_sent(checked: CheckedFile, preview: Preview, *, dry_run: bool, as_json: bool) -> None:
    """A dry run, or nothing valid to send: the preview, and the results workbook anew when
    rows were submitted before; exit 1 when some rows are invalid."""
    results: dict[str, Any] = {}
    if not dry_run and preview.skipped:  # submitted before: the results workbook anew
        results = _results(checked, {})
    if as_json:
        ok = preview.invalid == 0 and "results_error" not in results
        print_json({"ok": ok, "dry_run": dry_run, "sent": 0, **results, **preview.as_dict()})
    else:
        show_preview(preview)
        console.print(
            "dry run: nothing sent, nothing written / 预览：未提交，未写入"
            if dry_run
            else "nothing to send / 没有可提交的行"
        )
        if results.get("results_file"):
            console.print(f"results / 结果: {results['results_file']}", highlight=False)
    if "results_error" in results:
        fail(results["results_error"], EXIT_FAILURES)
    if preview.invalid:
        raise typer.Exit(EXIT_FAILURES)


def _confirmed(preview: Preview, org: str) -> bool:
    show_preview(preview)
    try:
        return typer.confirm(f"send {preview.valid} candidates to {org}? / 确认提交？")
    except typer.Abort:
        fail("not confirmed: nothing was sent (use --yes to submit without asking)", EXIT_INPUT)


def _results(checked: CheckedFile, outcomes: dict[int, Any]) -> dict[str, Any]:
    from gateway.intake.flow import results_or_error

    return results_or_error(checked, outcomes)


def _submit(
    checked: CheckedFile,
    settings: Settings,
    org: str,
    plan: str | None,
    operator: str,
    *,
    show_progress: bool = False,
    total: int = 0,
) -> dict[str, Any]:
    from gateway.intake.audit import file_sha256
    from gateway.intake.flow import submit_and_report

    sha = file_sha256(checked.path)

    async def go(progress: Callable[[int], None] | None) -> Any:
        from gateway.runtime import open_gateway

        async with open_gateway(settings=settings, create=False) as gw:
            return await submit_and_report(
                gw,
                checked,
                organization=org,
                plan=plan,
                operator=operator,
                file_sha256=sha,
                progress=progress,
            )

    if show_progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("sending to " + org), BarColumn(), MofNCompleteColumn(), console=console
        ) as bar:
            task = bar.add_task("send", total=total or None)
            data: dict[str, Any] = run_async(lambda: go(lambda n: bar.advance(task, n)))
    else:
        data = run_async(lambda: go(None))
    return data


def _show_submission(data: dict[str, Any]) -> None:
    counts = data["counts"]
    # invalid rows too: with --yes no preview was shown, and these are what staff must fix
    bad = [r for r in data["rows"] if r["status"] in ("invalid", "rejected", "pending", "unknown")]
    if bad:
        table(
            "not accepted / 未受理",
            ["行 row", "状态 status", "说明 detail"],
            [
                [r["row"], r["status"], f"{r['detail_zh']}\n{r['detail_en']}"]
                for r in bad[:PROBLEMS_SHOWN]
            ],
        )
        if len(bad) > PROBLEMS_SHOWN:
            console.print(
                f"... and {len(bad) - PROBLEMS_SHOWN} more rows: every row is in the results "
                "workbook and in --json",
                highlight=False,
            )
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    console.print(f"submitted to {data['organization']}: {parts}", highlight=False)
    if data["results_file"]:
        console.print(f"results / 结果: {data['results_file']}", highlight=False)
