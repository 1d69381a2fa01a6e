"""``xgate verify``, ``xgate recognise`` and ``xgate credentials``: the credit bank outward."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import (
    EXIT_FAILURES,
    EXIT_INPUT,
    console,
    fail,
    print_json,
    run_async,
    table,
    write_private,
)

NumberArg = Annotated[str, typer.Argument(help="the certificate number")]

credentials_app = typer.Typer(
    help="Open Badges 3.0 / CLR 2.0 credentials: issue signed ones, verify any.",
    no_args_is_help=True,
)


def _print_answer(summary: dict[str, Any]) -> None:
    table(
        None,
        ["organization", "number", "outcome", "certificate", "level", "issued", "answered"],
        [
            [
                summary["organization"],
                summary["number"],
                summary["outcome"],
                summary["certificate_name"] or summary["certificate_code"],
                summary["level"],
                summary["issued_on"],
                f"{summary['answered_at']:%Y-%m-%d %H:%M:%S}Z",
            ]
        ],
    )
    if summary["reason"]:
        console.print(summary["reason"], highlight=False, markup=False)


def verify(
    number: NumberArg,
    org: Annotated[str | None, typer.Option("--org", help="the issuing organization")] = None,
    name: Annotated[str | None, typer.Option("--name", help="check the holder's name too")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the issuing organization whether a certificate holds; the answer is recorded.

    Exit 0 when it is valid, 1 when it is not (not found, revoked, another holder)."""

    async def go() -> Any:
        from gateway.verification import ask

        async with state.open_existing() as gw:
            return await ask(gw, number, organization=org, holder_name=name)

    answer = run_async(go)
    if as_json:
        print_json(answer.summary())
    else:
        _print_answer(answer.summary())
    if not answer.ok:
        raise typer.Exit(EXIT_FAILURES)


def recognise(
    number: NumberArg,
    org: Annotated[str, typer.Option("--org", help="the issuing organization")],
    learner: Annotated[str, typer.Option("--learner", help="the holder's ID number or 学号")],
    name: Annotated[str | None, typer.Option("--name", help="the holder's name")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recognise (认定) a certificate obtained elsewhere: verified at the issuer, then recorded
    and converted like a synced one; refused with the organization's reason otherwise."""

    async def go() -> Any:
        from gateway.credentials.issue import learner_hash
        from gateway.credit.recognition import recognise as run

        async with state.open_existing() as gw:
            holder = await learner_hash(gw, learner)
            return await run(gw, number, organization=org, holder_hash=holder, holder_name=name)

    done = run_async(go)
    summary = {
        **done.answer.summary(),
        "run_id": done.run_id,
        "new": done.new,
        "credits_converted": done.credits_converted,
    }
    if as_json:
        print_json(summary)
        return
    _print_answer(summary)
    console.print(
        f"recognised: {'recorded' if done.new else 'already on record'}, "
        f"{done.credits_converted} credit conversion(s) (run {done.run_id})",
        highlight=False,
    )


def _write(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@credentials_app.command("issue")
def issue(
    learner: Annotated[str, typer.Option("--learner", help="ID number or 学号")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write (JSON)")],
    certificate: Annotated[
        str | None, typer.Option("--certificate", help="only this certificate number")
    ] = None,
    clr: Annotated[
        bool, typer.Option("--clr", help="one ClrCredential for the whole record")
    ] = False,
) -> None:
    """Sign an OpenBadgeCredential per valid certificate (or a ClrCredential with --clr).

    Several badges go to OUTPUT with the certificate number added to the file name."""

    async def go() -> Any:
        from gateway.credentials.issue import issue_badges, issue_clr, learner_hash

        async with state.open_existing() as gw:
            holder = await learner_hash(gw, learner)
            if clr:
                return [await issue_clr(gw, holder)]
            return await issue_badges(gw, holder, number=certificate)

    issued = run_async(go)
    for item in issued:
        path = output
        if len(issued) > 1:
            number = item.document["credentialSubject"]["licenseNumber"]
            path = output.with_name(f"{output.stem}-{number}{output.suffix or '.json'}")
        _write(path, item.file())
        console.print(f"wrote {path} ({item.kind} {item.credential_id})", highlight=False)


@credentials_app.command("verify")
def verify_credential(
    file: Annotated[Path, typer.Argument(help="the credential file (JSON or JWS)")],
    did_document: Annotated[
        str | None,
        typer.Option("--did-document", help="the issuer's DID document: a file or URL"),
    ] = None,
    status_list: Annotated[
        str | None, typer.Option("--status-list", help="the status list: a file or URL")
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option("--issuer", help="accept only this issuer (did:web:...), e.g. the college"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a credential: signature, issuer key (did:web), validity period, status.

    Exit 0 when valid, 1 when revoked, expired, unknown or invalid, 2 for an unreadable file."""
    from gateway.credentials.check import verify_file

    verdict = run_async(
        lambda: verify_file(file, did_document=did_document, status_list=status_list, issuer=issuer)
    )
    summary = verdict.summary()
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{summary['status'].upper()}: {summary['name'] or ''} ({summary['id']})",
            highlight=False,
            markup=False,
        )
        for line in summary["checks"]:
            console.print(f"  ok: {line}", highlight=False, markup=False)
        for line in summary["problems"]:
            console.print(f"  problem: {line}", highlight=False, markup=False)
        for inner in summary["inner"]:
            console.print(f"  inner {inner['name']}: {inner['status']}", markup=False)
    bad_inner = any(v.status != "valid" for v in verdict.inner)
    if not verdict.ok or bad_inner:
        raise typer.Exit(EXIT_FAILURES)


@credentials_app.command("did")
def did() -> None:
    """Print the DID document `xgate serve` publishes at /.well-known/did.json."""

    from gateway.credentials.signing import college_key, did_document
    from gateway.errors import XgateError
    from gateway.keys import load, resolve_path
    from gateway.settings import load_settings

    try:
        settings = load_settings(state.CONFIG)
        key = college_key(load(resolve_path(settings.keys_file)))
    except XgateError as exc:
        fail(str(exc), exc.exit_code)
    typer.echo(json.dumps(did_document(settings.credentials, key), indent=2))


@credentials_app.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="the credential's id (urn:uuid:...)")],
    reason: Annotated[str, typer.Option("--reason", help="why it is withdrawn")],
) -> None:
    """Withdraw one issued credential: it verifies as revoked from now on."""

    async def go() -> bool:
        from gateway.credentials.issue import revoke_credential

        async with state.open_existing() as gw:
            return await revoke_credential(gw, credential_id, reason)

    if not run_async(go):
        fail(f"no credential {credential_id} that is not already revoked", EXIT_INPUT)
    console.print(f"revoked {credential_id}", highlight=False, markup=False)


learners_app = typer.Typer(
    help="Learner self-service: one-time activation codes staff hand out.",
    no_args_is_help=True,
)


@learners_app.command("invite")
def invite(
    learner: Annotated[
        str | None, typer.Option("--learner", help="ID number or 学号 of one learner")
    ] = None,
    all_students: Annotated[
        bool, typer.Option("--all-students", help="every student (学号) without a login yet")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV of codes to hand out")
    ] = None,
) -> None:
    """Make one-time activation codes (valid 14 days; a new code cancels the old one).

    Learners activate at /activate with their 学号 or ID number and the code."""
    if (learner is None) == (not all_students):
        fail("give --learner ID|学号 or --all-students", EXIT_INPUT)

    async def go() -> Any:
        from gateway.credentials.issue import learner_hash
        from gateway.learner_access import invite as make
        from gateway.learner_access import invite_students

        async with state.open_existing() as gw:
            if learner is not None:
                return [await make(gw.db, await learner_hash(gw, learner), by="cli")]
            return await invite_students(gw.db, by="cli")

    made = run_async(go)
    rows = [
        [m.student_number or "", m.name or "", m.code, f"{m.expires_at:%Y-%m-%d}"] for m in made
    ]
    if output is not None:
        import csv

        try:
            with output.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["学号", "姓名", "激活码", "有效期至"])
                writer.writerows(rows)
        except OSError as exc:
            fail(f"cannot write {output}: {exc}", EXIT_INPUT)
        console.print(f"wrote {len(rows)} code(s) to {output}", highlight=False, markup=False)
        return
    table(None, ["学号", "姓名", "激活码", "有效期至"], rows)
