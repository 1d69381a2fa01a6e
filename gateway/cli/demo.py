"""``xgate demo``: the README's first command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.amounts import two_places
from gateway.cli.options import JsonOpt
from gateway.cli.output import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    console,
    fail,
    print_json,
    run_async,
    table,
)
from gateway.masking import mask_text

TRUTH_LEGEND = (
    "  each pair counts the same records twice, in xgate's database and at the (simulated)\n"
    "  organization; equal pairs mean nothing was lost or duplicated. registrations: accepted\n"
    "  registrations for the college's plans; scores and certificates: every record the\n"
    "  organization holds for the college's candidates, including a past sitting registered\n"
    "  elsewhere (the demo seeds one), which is why scores can outnumber registrations."
)


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="working folder (created if missing)")
    ] = Path("xgate-demo"),
    as_json: JsonOpt = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="then keep the simulated organizations running and serve the web console "
            "until Ctrl-C",
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", help="console port with --serve")] = 8080,
) -> None:
    """Run the whole flow against the bundled simulated organizations: import the sample
    candidate list, register, grade, sync with issuance, convert credit, and summarise."""
    try:
        from xgate_simulators.demo import run_demo, submit_sample
    except ImportError:
        fail(
            "xgate demo needs the bundled simulated organizations (xgate_simulators), "
            "installed with xgate from its source: pip install -e .",
            EXIT_CONFIG,
        )

    if not as_json:
        console.print(f"xgate demo in {directory.resolve()} (simulated organizations on loopback)")
    summary = run_async(lambda: run_demo(directory, submit=submit_sample))
    if as_json:
        data: dict[str, Any] = {
            **{k: v for k, v in vars(summary).items() if k != "lines"},
            "lines": [
                {**vars(line), "credits": two_places(line.credits)} for line in summary.lines
            ],
            "credits_converted": two_places(summary.credits_converted),
            "coverage": [
                {**c, "share": None if c["share"] is None else str(c["share"])}
                for c in summary.coverage
            ],
            "matches_truth": summary.matches_truth,
            "ok": summary.ok,
        }
        print_json(data)
    else:
        _render(summary)
        _console_hint(summary, directory, serve, port)
    if serve:
        from xgate_simulators.demo_serve import serve_demo

        run_async(
            lambda: serve_demo(
                directory,
                "127.0.0.1",
                port,
                announce=lambda url: console.print(f"console on {url} (Ctrl-C to stop)"),
            )
        )
    if not summary.ok:
        raise typer.Exit(EXIT_FAILURES)


def _console_hint(summary: Any, directory: Path, serve: bool, port: int) -> None:
    console.print(
        f"web console: sign in as [bold]{summary.console_user}[/] with password "
        f"[bold]{summary.console_password}[/] (a new one each run)",
        highlight=False,
    )
    if not serve:
        config = (directory / "xgate.toml").resolve()
        console.print(
            f"  xgate --config {config} serve, then open http://127.0.0.1:{port}/ "
            f"(xgate demo --serve also keeps the simulated organizations running, so lists "
            f"can be submitted from the console)",
            highlight=False,
        )


def _render(summary: Any) -> None:
    if summary.invalid_rows:
        table(
            f"rows skipped by the check ({len(summary.invalid_rows)}): fix them and submit again",
            ["row", "field", "problem"],
            [
                [r.get("row"), r.get("field"), mask_text(str(r.get("message")))]
                for r in summary.invalid_rows
            ],
        )
    if summary.rejected:
        table(
            f"rejected by the organization ({len(summary.rejected)})",
            ["org", "plan", "candidate", "code", "reason"],
            [
                [
                    r["organization"],
                    r["plan_code"],
                    r["name"],
                    r["reason_code"],
                    mask_text(r["reason"] or ""),
                ]
                for r in summary.rejected
            ],
        )
    table(
        "summary per exam plan",
        ["org", "plan", "cert", "reg.", "rej.", "sat", "passed", "certs", "credits"],
        [
            [
                x.organization,
                x.plan,
                x.certificate,
                x.registered,
                x.rejected,
                x.sat,
                x.passed,
                x.certificates,
                x.credits,
            ]
            for x in summary.lines
        ],
    )
    if summary.coverage:
        table(
            "coverage by major / 各专业证书覆盖率 (roster, 在读)",
            ["专业 major", "在读", "已获证", "获证率%", "待发证", "已报名", "从未报名"],
            [
                [
                    c["major"],
                    c["enrolled"],
                    c["certified"],
                    c["share"],
                    c["passed"],
                    c["registered"],
                    c["never"],
                ]
                for c in summary.coverage
            ],
        )
    truth = ", ".join(f"{k} {v['database']}/{v['organization']}" for k, v in summary.truth.items())
    console.print(f"ground truth (database/organization): {truth}", highlight=False)
    console.print(TRUTH_LEGEND, highlight=False, markup=False)
    console.print(
        f"submitted {summary.submitted} rows; credit converted: {summary.credits_converted} "
        f"credits in {summary.ledger_entries} ledger entries",
        highlight=False,
    )
    if summary.learner:
        who = summary.learner
        console.print(
            f"learner self-service: `cd {summary.directory} && xgate serve`, open "
            f"http://127.0.0.1:8080/activate, 学号 {who['student_number']}, code {who['code']}",
            highlight=False,
            markup=False,
        )
    run = "first run" if summary.first_run else f"repeat run: {summary.changes} rows changed"
    verdict = "[green]ok[/]" if summary.ok else "[red]FAILED[/]"
    console.print(f"{verdict} in {summary.seconds}s ({run}); database: {summary.database}")
