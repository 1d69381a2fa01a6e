"""``xgate outbox``: what is not settled yet, and settling it by look-up."""

from __future__ import annotations

from typing import Any

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt, OrgOpt
from gateway.cli.output import EXIT_FAILURES, console, print_json, run_async, table
from gateway.clock import local_text
from gateway.masking import mask_text

app = typer.Typer(
    help="Registration outbox: pending, in-flight and unknown entries.",
    invoke_without_command=True,
)


@app.callback()
def outbox(ctx: typer.Context, org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """List entries not settled yet (pending, sent, unknown)."""
    if ctx.invoked_subcommand is not None:
        return

    async def go() -> list[dict[str, Any]]:
        from gateway.outbox import open_entries

        async with state.open_existing() as gw:
            if org:
                gw.organization_names([org])  # an unknown name is a configuration error
            return [
                {
                    "id": e.id,
                    "organization": e.organization,
                    "plan": e.plan_code,
                    "status": e.status.value,
                    "reason": e.reason,
                    "updated_at": e.updated_at,
                }
                for e in await open_entries(gw, org)
            ]

    rows = run_async(go)
    if as_json:
        print_json({"entries": rows})
        return
    if not rows:
        console.print("outbox is empty: every registration is settled")
        return
    table(
        "registration outbox (times in Beijing, UTC+8)",
        ["id", "organization", "plan", "status", "reason", "updated"],
        [
            [
                r["id"],
                r["organization"],
                r["plan"],
                r["status"],
                mask_text(r["reason"] or ""),
                local_text(r["updated_at"]),
            ]
            for r in rows
        ],
    )


@app.command("reconcile")
def reconcile_cmd(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """Settle unknown entries by asking each organization; exit 1 if some stay unknown."""

    async def go() -> dict[str, Any]:
        from gateway.outbox import reconcile

        async with state.open_existing() as gw:
            if org:
                gw.organization_names([org])
            r = await reconcile(gw, org)
            return {
                "accepted": r.accepted,
                "rejected": r.rejected,
                "requeued": r.requeued,
                "still_unknown": r.still_unknown,
                "errors": r.errors,
            }

    result = run_async(go)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"accepted {result['accepted']}, rejected {result['rejected']}, "
            f"back to pending {result['requeued']}, still unknown {result['still_unknown']}"
        )
        for err in result["errors"]:
            console.print(f"[red]error[/] {mask_text(err)}", highlight=False)
    if result["still_unknown"] or result["errors"]:
        raise typer.Exit(EXIT_FAILURES)
