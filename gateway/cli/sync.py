"""``xgate sync``, ``xgate issue``, ``xgate runs`` and ``xgate quarantine``."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from gateway.cli import state
from gateway.cli.options import JsonOpt, OrgOpt, OrgsOpt, PlanOpt
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
from gateway.clock import local_text
from gateway.masking import mask_text

STREAM_COLUMNS = (
    "organization",
    "stream",
    "status",
    "pages",
    "new",
    "changed",
    "quarantined",
    "withdrawn",
    "requests",
    "retries",
    "error",
)


def sync(
    org: OrgsOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="ignore stored cursors, re-read all")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="re-read from this date (YYYY-MM-DD, Beijing time)"),
    ] = None,
    issue: Annotated[
        bool, typer.Option("--issue", help="also ask organizations to issue certificates")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Pull every organization's new scores and certificates (the nightly job).

    Exit 0 when every stream (and, with --issue, every issuance) succeeded; 1 when any
    organization failed or was deferred, or an issuance outcome is unknown.
    """
    interactive = sys.stdout.isatty() and not as_json
    start = _parse_since(since) if since else None

    async def go() -> dict[str, Any]:
        from gateway.nightly import run_nightly

        async with state.open_existing() as gw:
            with _progress(interactive) as tick:
                report = await run_nightly(
                    gw, organizations=org, full=full, since=start, issue=issue, progress=tick
                )
            return {**report.as_dict(), "summary": report.summary()}

    data = run_async(go)
    if as_json:
        print_json(data)
    else:
        if interactive:
            table(
                None,
                STREAM_COLUMNS,
                [
                    [s[c] if c != "error" else s[c] or "" for c in STREAM_COLUMNS]
                    for s in data["streams"]
                ],
            )
        console.print(Text(mask_text(data["summary"])), highlight=False)
    if data["exit_code"]:
        raise typer.Exit(data["exit_code"])


@contextlib.contextmanager
def _progress(interactive: bool) -> Iterator[Callable[[str, str, int], None] | None]:
    """A live records counter per organization and stream on a terminal; nothing otherwise."""
    if not interactive:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[tuple[str, str], Any] = {}

        def tick(name: str, stream: str, n: int) -> None:
            key = (name, stream)
            if key not in tasks:
                tasks[key] = progress.add_task(f"{name} {stream}", total=None)
            progress.advance(tasks[key], n)

        yield tick


def issue(
    org: OrgsOpt = None,
    plan: PlanOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask organizations with the `issue` capability to issue certificates for passed
    candidates that have none yet (idempotent: never two certificates for one registration)."""

    async def go() -> list[dict[str, Any]]:
        from gateway.issuance import issue_all

        async with state.open_existing() as gw:
            return [vars(r) for r in await issue_all(gw, org, plan)]

    reports = run_async(go)
    if as_json:
        print_json({"organizations": reports})
    else:
        table(
            "certificate issuance",
            ["organization", "requested", "issued", "refused", "unknown", "errors"],
            [
                [
                    r["organization"],
                    r["requested"],
                    r["issued"],
                    r["refused"],
                    r["unknown"],
                    mask_text("; ".join(r["errors"])),
                ]
                for r in reports
            ],
        )
    if any(r["misconfigured"] for r in reports):
        raise typer.Exit(EXIT_CONFIG)
    if any(r["errors"] or r["unknown"] for r in reports):
        raise typer.Exit(EXIT_FAILURES)


def runs(
    limit: Annotated[int, typer.Option("--limit", help="how many recent runs")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Recorded sync runs, per organization and stream."""

    async def go() -> list[dict[str, Any]]:
        from gateway.runlog import recent_runs

        async with state.open_existing() as gw:
            return await recent_runs(gw, limit)

    data = run_async(go)
    if as_json:
        print_json({"runs": data})
        return
    rows = []
    for r in data:
        for s in r["streams"] or [{}]:
            rows.append(
                [
                    r["id"],
                    local_text(r["started_at"]),
                    r["status"],
                    s.get("organization"),
                    s.get("stream"),
                    s.get("pages"),
                    s.get("records"),
                    s.get("new"),
                    s.get("changed"),
                    s.get("retries"),
                    s.get("requests"),
                    s.get("duration"),
                    mask_text(s.get("error") or ""),
                ]
            )
    table(
        "sync runs (times in Beijing, UTC+8)",
        [
            "run",
            "started",
            "status",
            "organization",
            "stream",
            "pages",
            "records",
            "new",
            "changed",
            "retries",
            "requests",
            "seconds",
            "error",
        ],
        rows,
    )


quarantine_app = typer.Typer(
    help="Records an organization sent that did not validate.", no_args_is_help=True
)


@quarantine_app.command("list")
def quarantine_list(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """Quarantined records (id, organization, stream, error)."""

    async def go() -> list[dict[str, Any]]:
        from gateway.runlog import quarantined

        async with state.open_existing() as gw:
            return await quarantined(gw, org)

    rows = run_async(go)
    if as_json:
        print_json({"quarantine": [{**r, "error": mask_text(r["error"])} for r in rows]})
        return
    table(
        "quarantine",
        ["id", "organization", "stream", "run", "error", "at"],
        [
            [
                r["id"],
                r["organization"],
                r["stream"],
                r["run_id"],
                mask_text(r["error"]),
                local_text(r["created_at"]),
            ]
            for r in rows
        ],
    )


@quarantine_app.command("show")
def quarantine_show(item: int, as_json: JsonOpt = False) -> None:
    """One quarantined record with its raw payload (personal data masked)."""

    async def go() -> dict[str, Any] | None:
        from gateway.runlog import quarantined_record

        async with state.open_existing() as gw:
            return await quarantined_record(gw, item)

    row = run_async(go)
    if row is None:
        fail(f"no quarantined record {item}", EXIT_INPUT)
    row["payload"] = mask_text(row["payload"])
    row["error"] = mask_text(row["error"])
    if as_json:
        with contextlib.suppress(ValueError):
            row["payload"] = json.loads(row["payload"])
        print_json(row)
    else:
        console.print(f"#{row['id']} {row['organization']}/{row['stream']} run {row['run_id']}")
        console.print(f"error: {row['error']}", highlight=False)
        console.print(row["payload"], highlight=False, markup=False)


def _parse_since(value: str) -> datetime:
    """A date or datetime; naive values are Beijing time, as staff think of them."""
    from gateway.clock import BEIJING

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since: not a date: {value!r} (use YYYY-MM-DD)", EXIT_INPUT)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)
