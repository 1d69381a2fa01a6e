"""``xgate privacy purge``: remove personal data no longer needed (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import typer

from gateway.cli import state
from gateway.cli.output import console, print_json, run_async

app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)


@app.command("purge")
def purge_cmd(
    before: Annotated[str, typer.Option("--before", help="remove what is older than this day")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, remove nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Delete never-registered candidates, quarantined payloads and console uploads older than
    DATE; learning accounts and the ledger (pseudonymous) stay. The purge is audited."""

    async def go() -> Any:
        from gateway import audit
        from gateway.errors import InputError
        from gateway.privacy import purge
        from gateway.web.uploads import UploadStore

        try:
            cutoff = datetime.combine(date.fromisoformat(before), time(), tzinfo=UTC)
        except ValueError:
            raise InputError(f"--before: not a date (YYYY-MM-DD): {before!r}") from None
        now = datetime.now(UTC)
        if cutoff > now:
            raise InputError("--before: a day in the future would remove everything")
        async with state.open_existing() as gw:
            report = await purge(gw.db, cutoff, dry_run=dry_run)
            if not dry_run:
                store = UploadStore(gw.settings.console.upload_dir, now - cutoff)
                report.uploads = store.purge(now)
                async with gw.db.begin() as conn:
                    await audit.record(
                        conn,
                        actor=audit.cli_actor(),
                        origin=audit.cli_origin(),
                        action="privacy.purge",
                        target=f"before {before}",
                        details={
                            "candidates": report.candidates,
                            "quarantine_payloads": report.quarantine_payloads,
                            "uploads": report.uploads,
                        },
                    )
            return report

    report = run_async(go)
    data = {
        "before": before,
        "dry_run": report.dry_run,
        "candidates": report.candidates,
        "quarantine_payloads": report.quarantine_payloads,
        "uploads": report.uploads,
    }
    if as_json:
        print_json(data)
        return
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb}: {report.candidates} never-registered candidates, "
        f"{report.quarantine_payloads} quarantined payloads, {report.uploads} uploads older "
        f"than {before}; learning accounts and the ledger stay",
        highlight=False,
    )
