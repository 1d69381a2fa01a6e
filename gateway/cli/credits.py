"""``xgate credits``: learning accounts, transcripts, the ledger check, imports and the rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    EXIT_INPUT,
    console,
    dumps,
    fail,
    print_json,
    run_async,
    table,
    write_private,
)
from gateway.errors import ConfigurationError, InputError, XgateError
from gateway.masking import mask_text

app = typer.Typer(
    help="Credit bank (学分银行): accounts, transcripts, ledger check, imports, rules.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="The credit conversion rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

IdArg = Annotated[
    str,
    typer.Argument(help="the learner's 学号, name or ID number (or a ref such as c12 from a list)"),
]
IdTypeOpt = Annotated[
    str,
    typer.Option("--id-type", help="resident (checksum-validated), or another document type"),
]
MAX_LISTED = 50
_HASH = re.compile(r"^[0-9a-f]{64}$")
_REF = re.compile(r"^[ca][0-9]{1,18}$")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Cell text is data, never rich markup (a course called "[实训]" must print as such)."""
    table(title, columns, [[None if v is None else escape(str(v)) for v in r] for r in rows])


class Format(StrEnum):
    XLSX = "xlsx"
    JSON = "json"


def _id_hash(gw: Any, raw: str, id_type: str) -> str:
    """Accept what staff have: an ID number (validated) or a hash taken from a report."""
    from gateway.idnumber import IdNumberError, normalise, parse_resident_id

    if _HASH.match(raw.strip()):
        return raw.strip()
    if id_type == "resident":
        try:
            return str(gw.hash_id(parse_resident_id(raw).number))
        except IdNumberError as exc:
            raise InputError(exc.message) from None
    return str(gw.hash_id(normalise(raw)))


async def _transcript(raw: str, id_type: str, action: str) -> Any:
    """The learner's transcript, or the list of learners when ``raw`` (a 学号 or a name)
    matches several: staff choose one and run the command again with its reference. The
    look-up is audited (who, whom, when) before anything is shown."""
    from gateway import audit
    from gateway.credit.transcript import build_transcript
    from gateway.learners import id_hash_of, person_of, search_learners

    text = raw.strip()
    async with state.open_existing() as gw, gw.db.begin() as conn:
        hit = None
        if _HASH.match(text):
            id_hash = text
        elif _REF.match(text):
            found = await person_of(conn, text)
            if found is None:
                raise InputError(f"no learner {text} / 未找到该学员")
            hit, id_hash = found
        elif id_type != "resident" or id_hash_of(text, gw.hash_id) is not None:
            id_hash = _id_hash(gw, text, id_type)  # an ID number: validated, then hashed
            hits = await search_learners(conn, text, gw.hash_id)
            hit = hits[0] if hits else None
        else:
            hits = await search_learners(conn, text, gw.hash_id)
            if len(hits) != 1:
                await audit.record(
                    conn,
                    actor=audit.cli_actor(),
                    origin=audit.cli_origin(),
                    action=f"{action}.search",
                    outcome="ok" if hits else "not_found",
                    details={"matches": len(hits)},
                )
                return hits  # none (the caller says so) or several to choose from
            found = await person_of(conn, hits[0].ref)
            assert found is not None
            hit, id_hash = found
        tr = await build_transcript(conn, id_hash)
        await audit.record(
            conn,
            actor=audit.cli_actor(),
            origin=audit.cli_origin(),
            action=action,
            target=id_hash,
            outcome="ok" if tr is not None else "not_found",
        )
    if tr is None:
        raise InputError("no learning account for this learner / 未找到该学员的学习账户")
    if hit is not None and hit.student_number:
        tr.student = {
            "student_number": hit.student_number,
            "department": hit.department,
            "major": hit.major,
            "class_name": hit.class_name,
        }
    return tr


def _choose(hits: list[Any], raw: str, as_json: bool) -> None:
    """Several learners match: list them (not an error) so staff can pick one."""
    if not hits:
        fail(f"no learner with 学号 or name {raw!r} / 未找到学号或姓名为该值的学员", EXIT_INPUT)
    if as_json:
        print_json({"query": raw, "matches": [vars(h) for h in hits]})
        return
    _table(
        f"{len(hits)} learners match {raw!r} / 有{len(hits)}名学员符合",
        ["ref", "姓名", "学号", "证件号码", "院系", "专业", "班级"],
        [
            [h.ref, h.name, h.student_number, h.id_masked, h.department, h.major, h.class_name]
            for h in hits
        ],
    )
    console.print(
        "run the command again with the ref, the 学号 or the ID number / "
        "请用ref、学号或证件号码重新查询",
        highlight=False,
    )


@app.command("show")
def show(raw: IdArg, id_type: IdTypeOpt = "resident", as_json: JsonOpt = False) -> None:
    """A learner's account: masked ID, outcomes, active credit per course, the ledger."""
    from gateway.credit.transcript import KIND_LABELS, transcript_json

    tr = run_async(lambda: _transcript(raw, id_type, "credits.show"))
    if isinstance(tr, list):
        _choose(tr, raw, as_json)
        return
    if as_json:
        print_json(transcript_json(tr))
        return
    a = tr.account
    school = tr.student or {}
    where = " ".join(
        escape(str(school[k])) for k in ("student_number", "major", "class_name") if school.get(k)
    )
    console.print(
        f"[bold]{escape(a.name or '')}[/] {a.id_masked} ({a.kind}){' ' + where if where else ''}, "
        f"opened {a.created_at:%Y-%m-%d}, {len(tr.entries)} ledger entries",
        highlight=False,
    )
    _table(
        "learning outcomes",
        ["outcome", "kind", "date", "status", "credits", "ref"],
        [
            [
                o["title"],
                KIND_LABELS.get(o["kind"], o["kind"]),
                o["achieved_on"],
                o["status"],
                o["credits"],
                o["source_ref"],
            ]
            for o in tr.outcomes
        ],
    )
    _table(
        f"active credit: {tr.total}",
        ["course", "name", "credits", "grade", "valid until", "rules", "source"],
        [
            [
                c.course_code,
                c.course_name,
                c.credits,
                c.grade,
                c.valid_until,
                c.rule_version,
                "、".join(c.sources) + (" (expired)" if c.expired else ""),
            ]
            for c in tr.courses
        ],
    )
    _table(
        "ledger",
        ["seq", "kind", "course", "credits", "grade", "source", "rules", "note"],
        [
            [
                e.seq,
                e.kind.value,
                e.course_code,
                e.credits,
                e.grade,
                e.source_ref,
                e.rule_version,
                (f"reverses {e.reverses_seq}: " if e.reverses_seq else "") + (e.reason or ""),
            ]
            for e in tr.entries
        ],
    )


@app.command("transcript")
def transcript(
    raw: Annotated[
        str | None,
        typer.Argument(help="the learner's 学号, name or ID number (or a ref such as c12)"),
    ] = None,
    class_name: Annotated[
        str | None, typer.Option("--class", help="every student of a class (班级), e.g. 应化2401")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="xlsx or json")] = Format.XLSX,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
    id_type: IdTypeOpt = "resident",
) -> None:
    """Write a transcript (XLSX file, or JSON to stdout / --output), of one learner or of a
    whole class (--class)."""
    from gateway.credit.transcript import transcript_json, write_xlsx

    if (raw is None) == (class_name is None):
        fail("give a learner (学号, name or ID number) or --class, not both", EXIT_INPUT)
    if class_name is not None:
        _class_transcripts(class_name, fmt, output)
        return
    assert raw is not None
    tr = run_async(lambda: _transcript(raw, id_type, "credits.transcript"))
    if isinstance(tr, list):
        _choose(tr, raw, fmt is Format.JSON)
        return
    written = _write_transcript(
        fmt,
        output,
        json_document=lambda: transcript_json(tr),
        default=Path(f"transcript-{tr.account.id_hash[:12]}.xlsx"),
        write_workbook=lambda path: write_xlsx(tr, path),
    )
    if written is not None:
        console.print(f"wrote {written}", highlight=False)


def _write_transcript(
    fmt: Format,
    output: Path | None,
    *,
    json_document: Callable[[], Any],
    default: Path,
    write_workbook: Callable[[Path], object],
) -> Path | None:
    """JSON to standard output (None returned) or a private file; otherwise a workbook at
    ``output`` or ``default``. An unwritable path is bad input naming it (exit 2)."""
    if fmt is Format.JSON:
        text = dumps(json_document()) + "\n"
        if output is None:
            typer.echo(text, nl=False)
            return None
        write_private(output, text)
        return output
    target = output or default
    try:
        write_workbook(target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc}", EXIT_INPUT)
    return target


def _class_transcripts(class_name: str, fmt: Format, output: Path | None) -> None:
    from gateway.reports.transcripts import class_document, class_transcripts, write_class_xlsx

    async def go() -> Any:
        from gateway import audit

        async with state.open_existing() as gw, gw.db.begin() as conn:
            found = await class_transcripts(conn, class_name.strip())
            await audit.record(  # a look-up of every student of the class
                conn,
                actor=audit.cli_actor(),
                origin=audit.cli_origin(),
                action="credits.transcript_class",
                target=f"class {class_name.strip()}"[:128],
                outcome="ok" if found.members else "not_found",
                details={"students": len(found.members)},
            )
            return found

    found = run_async(go)
    if not found.members:
        fail(f"no student in class {class_name!r} / 未找到该班级的学生", EXIT_INPUT)
    written = _write_transcript(
        fmt,
        output,
        json_document=lambda: class_document(found),
        default=Path(f"transcripts-{class_name.strip()}.xlsx"),
        write_workbook=lambda path: write_class_xlsx(found, path),
    )
    if written is not None:
        console.print(f"wrote {written} ({len(found.members)} students)", highlight=False)


@app.command("verify")
def verify_cmd(
    checkpoints: Annotated[
        Path | None,
        typer.Option("--checkpoints", help="also compare with an exported checkpoint file"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every account's hash chain and the ledger against its latest signed checkpoint
    (and an exported copy); exit 1 naming each account, entry or checkpoint that fails."""
    import json

    exported = None
    if checkpoints is not None:
        from gateway.credit.checkpoints import parse_export

        try:
            exported = parse_export(json.loads(checkpoints.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"cannot read checkpoint file {checkpoints}: {exc}", EXIT_INPUT)

    async def go() -> Any:
        from gateway.credit.checkpoints import check_against_checkpoints, latest
        from gateway.credit.verify import verify_report

        async with state.open_existing() as gw, gw.db.connect() as conn:
            report = await verify_report(conn)
            signed = await check_against_checkpoints(conn, gw.keys, exported)
            return report, signed, await latest(conn)

    report, signed, last = run_async(go)
    ok = report.ok and not signed
    if as_json:
        print_json(
            {
                "ok": ok,
                "accounts": report.accounts,
                "entries": report.entries,
                "root": report.root,
                "problems": [
                    {"account": p.account, "seq": p.seq, "message": p.message}
                    for p in report.problems
                ],
                "checkpoint": last.summary() if last else None,
                "checkpoint_problems": signed,
            }
        )
    elif ok:
        where = (
            f"; checkpoint {last.seq} ({last.created_at:%Y-%m-%d %H:%M} UTC) holds" if last else ""
        )
        console.print(
            f"ledger intact: {report.accounts} accounts, {report.entries} entries; "
            f"root {report.root}{where}",
            highlight=False,
        )
    else:
        for line in [str(p) for p in report.problems] + signed:
            console.print(f"[red]tampered[/] {escape(mask_text(line))}", highlight=False)
        console.print(
            f"{len(report.problems) + len(signed)} problem(s) in {report.accounts} accounts, "
            f"{report.entries} entries",
            highlight=False,
        )
    if not ok:
        raise typer.Exit(EXIT_FAILURES)


checkpoints_app = typer.Typer(help="Signed ledger checkpoints.", no_args_is_help=True)
app.add_typer(checkpoints_app, name="checkpoints")


@checkpoints_app.command("export")
def checkpoints_export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """Every signed checkpoint (and the latest one's heads) as JSON, to keep elsewhere."""

    async def go() -> Any:
        from gateway.credit.checkpoints import all_checkpoints, export_document

        async with state.open_existing() as gw, gw.db.connect() as conn:
            return export_document(await all_checkpoints(conn))

    text = dumps(run_async(go)) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    write_private(output, text)
    console.print(f"wrote {output}", highlight=False)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX of course credits and training")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows even if some are not")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import course credits and non-degree training; nothing is written if a row is invalid."""
    from gateway.credit.importer import read_credit_file

    try:
        parsed = read_credit_file(file)
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    problems = [str(p) for p in parsed.problems]
    write = not problems or skip_invalid

    async def go() -> Any:
        from gateway.credit.events import emit_credit
        from gateway.credit.importer import import_rows

        async with state.open_existing() as gw:
            async with gw.db.begin() as conn:
                done = await import_rows(conn, parsed.rows, gw.hash_id, now=datetime.now(UTC))
            emit_credit(gw.host, done.entries)  # after the commit: observers see only facts
            return done

    result = run_async(go) if write else None
    conflicts = [str(c) for c in result.conflicts] if result else []
    summary = {
        "file": file.name,
        "rows": parsed.total,
        "valid": len(parsed.rows),
        "duplicates_in_file": parsed.duplicates,
        "written": write,
        "added": result.added if result else 0,
        "already": result.already if result else 0,
        "accounts_created": result.accounts_created if result else 0,
        "problems": problems,
        "conflicts": conflicts,
    }
    if as_json:
        print_json(summary)
    else:
        for line in (problems + conflicts)[:MAX_LISTED]:
            console.print(f"[red]error[/] {escape(mask_text(line))}", highlight=False)
        if len(problems) + len(conflicts) > MAX_LISTED:
            console.print(f"... and {len(problems) + len(conflicts) - MAX_LISTED} more")
        if not write:
            console.print(
                f"{len(problems)} problem(s) in {file.name}: nothing imported "
                "(fix the rows, or use --skip-invalid)",
                highlight=False,
            )
        else:
            console.print(
                f"{file.name}: {summary['added']} entries added, {summary['already']} already "
                f"recorded, {summary['accounts_created']} accounts opened",
                highlight=False,
            )
    if not write:
        raise typer.Exit(EXIT_INPUT)
    if problems or conflicts:
        raise typer.Exit(EXIT_FAILURES)


@app.command("reconcile")
def reconcile_cmd(as_json: JsonOpt = False) -> None:
    """Re-apply the rules to every account (after a new rules version; expired credits)."""

    async def go() -> Any:
        from gateway.credit.conversion import reconcile_all
        from gateway.credit.events import emit_credit
        from gateway.credit.rules import load_rules

        async with state.open_existing() as gw:
            if gw.settings.rules_file is None:
                raise ConfigurationError("no rules_file is configured in the settings")
            rules = load_rules(gw.settings.rules_file)
            totals = await reconcile_all(
                gw.db,
                rules,
                now=datetime.now(UTC),
                on_commit=lambda done: emit_credit(gw.host, done.converted + done.reversed),
            )
            return rules.version, totals

    version, totals = run_async(go)
    if as_json:
        print_json(
            {
                "rule_version": version,
                "accounts": totals.accounts,
                "converted": totals.converted,
                "reversed": totals.reversed,
            }
        )
    else:
        console.print(
            f"rules {version}: {totals.accounts} accounts, {totals.converted} "
            f"conversions added, {totals.reversed} reversed",
            highlight=False,
        )


@rules_app.command("check")
def rules_check(
    file: Annotated[
        Path | None, typer.Argument(help="rules file (default: rules_file from the settings)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a rules file; exit 1 naming each rule and field that is wrong."""
    from gateway.catalogue import load_catalogue
    from gateway.credit.rules import RulesError, advisories, load_rules
    from gateway.settings import load_settings

    try:
        settings = load_settings(state.CONFIG)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    path = file or settings.rules_file
    if path is None:
        fail("no rules file given and no rules_file configured in the settings", EXIT_CONFIG)
    errors: list[str] = []
    notes: list[str] = []
    rules = None
    try:
        rules = load_rules(path)
        catalogue = load_catalogue(settings.catalogue_file) if settings.catalogue_file else None
        notes = advisories(rules, catalogue)
    except RulesError as exc:
        errors = exc.problems
    except ConfigurationError as exc:  # the catalogue: report, but the rules were fine
        notes = [f"catalogue not checked: {exc}"]
    if as_json:
        print_json(
            {
                "file": str(path),
                "ok": not errors,
                "errors": errors,
                "notes": notes,
                "version": rules.version if rules else None,
                "rules": len(rules.rules) if rules else 0,
            }
        )
    else:
        for line in errors:
            console.print(f"[red]error[/] {escape(line)}", highlight=False)
        for line in notes:
            console.print(f"[yellow]note[/]  {escape(line)}", highlight=False)
        if rules is not None:
            console.print(
                f"{path}: version {rules.version}, {len(rules.rules)} rules, cap "
                f"{rules.max_credits_per_certificate} credits per certificate",
                highlight=False,
            )
    if errors:
        raise typer.Exit(EXIT_FAILURES)


@app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx, or csv (two files)")] = "xlsx",
    as_json: JsonOpt = False,
) -> None:
    """Export what is new or corrected since the last export, for the national or provincial
    credit bank (learning outcomes and credit entries); then the xgate_credit_export hook."""

    async def go() -> Any:
        from gateway.credit.export import export_credit

        async with state.open_existing() as gw:
            return await export_credit(gw, output, fmt=fmt)

    done = run_async(go)
    summary = {
        "export_id": done.export_id,
        "outcomes": len(done.outcomes),
        "entries": len(done.entries),
        "corrections": done.corrections,
        "files": [str(f) for f in done.files],
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"export {done.export_id}: {summary['outcomes']} outcome(s), {summary['entries']} "
        f"entr{'y' if summary['entries'] == 1 else 'ies'}, {done.corrections} correction(s) -> "
        + ", ".join(summary["files"]),
        highlight=False,
        markup=False,
    )
