"""``xgate roster``: import the registrar's student roster (学籍) and look students up.

``import`` checks every row first; any problem means nothing is imported (exit 2), with each
problem named by row and column in Chinese and English. Importing the same export again
changes nothing. ``show`` finds a student by 学号 or name and lists every recorded change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import EXIT_INPUT, console, fail, print_json, run_async, table
from gateway.errors import XgateError

app = typer.Typer(help="The registrar's student roster (学籍).", no_args_is_help=True)
PROBLEMS_SHOWN = 50


def _problems(problems: list[Any]) -> None:
    for p in problems[:PROBLEMS_SHOWN]:
        console.print(
            f"  {p.message_zh}\n    {p.message_en} [{p.code}]", highlight=False, markup=False
        )
    if len(problems) > PROBLEMS_SHOWN:
        console.print(f"... and {len(problems) - PROBLEMS_SHOWN} more (--json lists them all)")


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="the registrar's export (.xlsx or .csv)")],
    operator: Annotated[
        str | None, typer.Option("--operator", help="who imports (default: the OS user)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import (or re-import) the roster: all rows or none; changes are kept as history."""
    from gateway.intake.audit import default_operator, file_sha256
    from gateway.intake.problems import IntakeFileError
    from gateway.roster import import_roster, read_roster

    try:
        parsed = read_roster(file)
    except IntakeFileError as exc:
        if as_json:
            print_json({"ok": False, "error": exc.as_dict()})
        fail(str(exc), exc.exit_code)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    result = None
    if not parsed.problems:

        async def go() -> Any:

            async with state.open_existing() as gw, gw.db.begin() as conn:
                done = await import_roster(
                    conn,
                    parsed.rows,
                    gw.hash_id,
                    file_name=file.name,
                    file_sha256=file_sha256(file),
                    operator=operator or default_operator(),
                    now=datetime.now(UTC),
                )
                if done.conflicts:  # roll back: nothing half-imported
                    raise _Conflicts(done)
                return done

        try:
            result = run_async(go)
        except _Conflicts as exc:
            result = exc.result
    problems = parsed.problems + (result.conflicts if result else [])
    ok = not problems
    summary = {
        "ok": ok,
        "file": file.name,
        "rows": parsed.rows_total,
        "valid": len(parsed.rows),
        "imported": bool(ok and result and result.written),
        "added": result.added if ok and result else 0,
        "changed": result.changed if ok and result else 0,
        "unchanged": result.unchanged if result else 0,
        "changes_by_field": result.changes if ok and result else {},
        "linked_candidates": result.linked_candidates if result else 0,
        "linked_learning_accounts": result.linked_accounts if result else 0,
        "status_column": parsed.status_column,
        "problems": [p.as_dict() for p in problems],
    }
    if as_json:
        print_json(summary)
    else:
        _render(summary, problems)
    if not ok:
        raise typer.Exit(EXIT_INPUT)


class _Conflicts(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__("roster conflicts")
        self.result = result


def _render(summary: dict[str, Any], problems: list[Any]) -> None:
    if problems:
        console.print(f"problems / 问题 ({len(problems)}):", style="bold")
        _problems(problems)
        console.print(
            f"{summary['file']}: nothing imported (fix the rows and import again) / 未导入",
            highlight=False,
        )
        return
    if not summary["status_column"]:
        console.print("note: no 学籍状态 column; every student is taken as 在读", highlight=False)
    changes = ", ".join(f"{k} {v}" for k, v in summary["changes_by_field"].items())
    console.print(
        f"{summary['file']}: {summary['rows']} rows; {summary['added']} added, "
        f"{summary['changed']} changed{f' ({changes})' if changes else ''}, "
        f"{summary['unchanged']} unchanged; {summary['linked_candidates']} already candidates, "
        f"{summary['linked_learning_accounts']} with a learning account"
        + ("" if summary["imported"] else " (nothing to write: the roster is up to date)"),
        highlight=False,
    )


@app.command("show")
def show(
    query: Annotated[str, typer.Argument(help="学号 or name")],
    as_json: JsonOpt = False,
) -> None:
    """A student on the roster (by 学号 or name) and every change re-imports recorded."""
    from gateway.roster.model import STATUS_LABELS
    from gateway.roster.store import find_students, student_history

    async def go() -> Any:

        async with state.open_existing() as gw, gw.db.connect() as conn:
            found = await find_students(conn, query.strip())
            return [(s, await student_history(conn, s["id"])) for s in found]

    found = run_async(go)
    if not found:
        fail(f"no student with 学号 or name {query!r} on the roster / 花名册中未找到", EXIT_INPUT)
    keys = ("student_number", "name", "id_masked", "department", "major", "class_name", "cohort")
    if as_json:
        print_json(
            [
                {
                    **{k: s[k] for k in keys},
                    "status": s["status"],
                    "waiver_basis": s["waiver_basis"],
                    "history": [vars(c) for c in history],
                }
                for s, history in found
            ]
        )
        return
    table(
        "花名册 roster",
        ["学号", "姓名", "证件号码", "院系", "专业", "班级", "年级", "学籍状态"],
        [[*(s[k] for k in keys), STATUS_LABELS.get(s["status"], s["status"])] for s, _ in found],
    )
    for s, history in found:
        if history:
            table(
                f"{s['student_number']} changes / 变更记录",
                ["时间", "字段", "原值", "新值", "文件"],
                [[c.at, c.field, c.old, c.new, c.file_name] for c in history],
            )
