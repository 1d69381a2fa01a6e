"""``xgate audit``: read the audit trail (who looked up or changed what, when, from where)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from gateway.cli import state
from gateway.cli.output import console, print_json, run_async, table


def _day(value: str | None, option: str) -> datetime | None:
    from gateway.errors import InputError

    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise InputError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def audit_list(
    actor: Annotated[str | None, typer.Option("--user", help="who acted")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="e.g. credits.show, or credits.* for all")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="an id hash, a row id")] = None,
    since: Annotated[str | None, typer.Option("--since", help="from this day (UTC)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="to this day, inclusive")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """The audit trail, newest first, filtered by user, action, target and date range."""

    async def go() -> Any:
        from gateway import audit

        start = _day(since, "--since")
        end = _day(until, "--until")
        async with state.open_existing() as gw, gw.db.connect() as conn:
            return await audit.query(
                conn,
                actor=actor,
                action=action,
                target=target,
                since=start,
                until=end + timedelta(days=1) if end else None,
                limit=limit,
            )

    rows = run_async(go)
    if as_json:
        print_json({"entries": [r.__dict__ for r in rows]})
        return
    table(
        f"audit trail ({len(rows)} entries)",
        ["at (UTC)", "user", "from", "action", "target", "outcome"],
        [
            [f"{r.at:%Y-%m-%d %H:%M:%S}", r.actor, r.origin, r.action, r.target, r.outcome]
            for r in rows
        ],
    )
    if not rows:
        console.print(escape("no audit entries match"), highlight=False)
