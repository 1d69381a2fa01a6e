"""``xgate sync``, ``xgate issue``, ``xgate runs`` and ``xgate quarantine``."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from gateway.cli import state
from gateway.cli.output import (
    EXIT_FAILURES,
    EXIT_INPUT,
    console,
    fail,
    print_json,
    run_async,
    table,
)
from gateway.masking import mask_text

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON document")]
OrgsOpt = Annotated[
    list[str] | None, typer.Option("--org", help="only this organization (repeatable)")
]


def _summary_line(data: dict[str, Any]) -> str:
    tot = data["totals"]
    failed = [
        f"{s['organization']}/{s['stream']}"
        for s in data["streams"]
        if s["status"] in ("failed", "deferred")
    ]
    line = (
        f"sync run {data['run_id']}: {tot['pages']} pages, {tot['records']} records, "
        f"{tot['new']} new, {tot['changed']} changed, {tot['quarantined']} quarantined, "
        f"credit +{tot['credits_converted']}/-{tot['credits_reversed']} entries"
    )
    if data.get("issued"):
        line += f", {data['issued']} certificates issued"
    if not failed:
        return line + "; all ok"
    reasons = [
        f"{s['organization']}/{s['stream']}: {s['error']}"
        for s in data["streams"]
        if s["status"] in ("failed", "deferred") and s.get("error")
    ]
    return line + f"; FAILED: {', '.join(failed)}" + "".join(f"\n  {r}" for r in reasons)


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

    Exit 0 when every stream succeeded, 1 when any organization failed or was deferred.
    """
    interactive = sys.stdout.isatty() and not as_json
    start = _parse_since(since) if since else None

    async def go() -> dict[str, Any]:
        from gateway.credit.rules import load_rules
        from gateway.issuance import issue_all
        from gateway.runtime import open_gateway
        from gateway.sync import run_sync, start_run

        async with open_gateway(state.CONFIG) as gw:
            names = gw.organization_names(org)
            # data files first: a broken rules file or catalogue stops the run before it starts
            gw.catalogue  # noqa: B018
            if gw.settings.rules_file:
                load_rules(gw.settings.rules_file)
            run_id = await start_run(gw, {"organizations": names, "full": full, "issue": issue})
            issued_reports = []
            if interactive:
                with Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    TextColumn("{task.completed} records"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=False,
                ) as progress:
                    tasks: dict[tuple[str, str], Any] = {}

                    def tick(name: str, stream: str, n: int) -> None:
                        key = (name, stream)
                        if key not in tasks:
                            tasks[key] = progress.add_task(f"{name} {stream}", total=None)
                        progress.advance(tasks[key], n)

                    report = await run_sync(
                        gw,
                        organizations=names,
                        full=full,
                        progress=tick,
                        since=start,
                        run_id=run_id,
                    )
            else:
                report = await run_sync(
                    gw, organizations=names, full=full, run_id=run_id, since=start
                )
            if issue:
                issued_reports = await issue_all(gw, names, run_id=run_id)
                if any(r.issued for r in issued_reports):  # pull what was just issued
                    more = await run_sync(gw, organizations=names, run_id=run_id)
                    report.streams += [s for s in more.streams if s.records or s.status != "ok"]
            data = report.as_dict()
            data["issued"] = sum(r.issued for r in issued_reports)
            data["issue"] = [vars(r) for r in issued_reports]
            data["ok"] = data["ok"] and not any(r.errors for r in issued_reports)
            return data

    data = run_async(go)
    if as_json:
        print_json(data)
    else:
        if interactive:
            table(
                None,
                [
                    "organization",
                    "stream",
                    "status",
                    "pages",
                    "new",
                    "changed",
                    "quarantined",
                    "requests",
                    "retries",
                    "error",
                ],
                [
                    [
                        s["organization"],
                        s["stream"],
                        s["status"],
                        s["pages"],
                        s["new"],
                        s["changed"],
                        s["quarantined"],
                        s["requests"],
                        s["retries"],
                        mask_text(s["error"] or ""),
                    ]
                    for s in data["streams"]
                ],
            )
        console.print(Text(mask_text(_summary_line(data))), highlight=False)
    if not data["ok"]:
        raise typer.Exit(EXIT_FAILURES)


def issue(
    org: OrgsOpt = None,
    plan: Annotated[str | None, typer.Option("--plan", help="only this exam plan")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask organizations with the `issue` capability to issue certificates for passed
    candidates that have none yet (idempotent: never two certificates for one registration)."""

    async def go() -> list[dict[str, Any]]:
        from gateway.issuance import issue_all
        from gateway.runtime import open_gateway

        async with open_gateway(state.CONFIG) as gw:
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
    if any(r["errors"] or r["unknown"] for r in reports):
        raise typer.Exit(EXIT_FAILURES)


def runs(
    limit: Annotated[int, typer.Option("--limit", help="how many recent runs")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Recorded sync runs, per organization and stream."""

    async def go() -> list[dict[str, Any]]:
        from sqlalchemy import select

        from gateway.runtime import open_gateway
        from gateway.store import tables as t

        async with open_gateway(state.CONFIG) as gw, gw.db.connect() as conn:
            heads = (
                (
                    await conn.execute(
                        select(t.sync_runs).order_by(t.sync_runs.c.id.desc()).limit(limit)
                    )
                )
                .mappings()
                .all()
            )
            out = []
            for h in heads:
                streams = (
                    (
                        await conn.execute(
                            select(t.sync_run_streams)
                            .where(t.sync_run_streams.c.run_id == h["id"])
                            .order_by(t.sync_run_streams.c.id)
                        )
                    )
                    .mappings()
                    .all()
                )
                out.append(
                    {
                        **dict(h),
                        "streams": [
                            {k: v for k, v in dict(s).items() if k not in ("id", "run_id")}
                            for s in streams
                        ],
                    }
                )
            return out

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
                    r["started_at"],
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
        "sync runs",
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
def quarantine_list(
    org: Annotated[str | None, typer.Option("--org")] = None, as_json: JsonOpt = False
) -> None:
    """Quarantined records (id, organization, stream, error)."""

    async def go() -> list[dict[str, Any]]:
        from sqlalchemy import select

        from gateway.runtime import open_gateway
        from gateway.store import tables as t

        async with open_gateway(state.CONFIG) as gw, gw.db.connect() as conn:
            qt = t.quarantine.c
            q = select(qt.id, qt.organization, qt.stream, qt.run_id, qt.error, qt.created_at)
            if org:
                q = q.where(t.quarantine.c.organization == org)
            return [dict(r) for r in (await conn.execute(q.order_by(t.quarantine.c.id))).mappings()]

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
                r["created_at"],
            ]
            for r in rows
        ],
    )


@quarantine_app.command("show")
def quarantine_show(item: int, as_json: JsonOpt = False) -> None:
    """One quarantined record with its raw payload (personal data masked)."""

    async def go() -> dict[str, Any] | None:
        from sqlalchemy import select

        from gateway.runtime import open_gateway
        from gateway.store import tables as t

        async with open_gateway(state.CONFIG) as gw, gw.db.connect() as conn:
            row = (
                (await conn.execute(select(t.quarantine).where(t.quarantine.c.id == item)))
                .mappings()
                .first()
            )
            return dict(row) if row else None

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
    from gateway.models import BEIJING

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since: not a date: {value!r} (use YYYY-MM-DD)", EXIT_INPUT)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)
