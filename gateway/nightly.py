"""The nightly workflow: sync, ask for certificates, sync again; one run, one honest report.

``run_nightly`` is the one implementation that the command line (``xgate sync``), a scheduler
(procrastinate jobs) and the web console call; none of them repeats its steps. Invariants:

- Data files (catalogue, credit rules) are read before a run is recorded: a broken file stops
  the night with a configuration error, never a half-run.
- The report is ``ok`` only when every stream succeeded *and* issuance left nothing failed or
  unknown; the summary line never says "all ok" otherwise.
- A SQLite file deleted or replaced while the run wrote to it is a failure of the run
  (``ConfigurationError``): what was written went to a file that no longer exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from gateway.credit.rules import load_rules
from gateway.failures import Kind
from gateway.issuance import IssueReport, issue_all
from gateway.runtime import Gateway
from gateway.sync import ProgressFn, SyncReport, mark_run_failed, run_sync, start_run

FAILED_STATUSES = ("failed", "deferred")


@dataclass
class NightlyReport:
    """A sync run with the issuance done inside it."""

    sync: SyncReport
    issuance: list[IssueReport] = field(default_factory=list)

    @property
    def run_id(self) -> int:
        return self.sync.run_id

    @property
    def issued(self) -> int:
        return sum(r.issued for r in self.issuance)

    @property
    def failures(self) -> list[str]:
        """One line per thing that did not succeed: a stream, an organization's issuance."""
        lines = [
            f"{s.organization}/{s.stream}: {s.error or s.status}"
            for s in self.sync.streams
            if s.status in FAILED_STATUSES
        ]
        for r in self.issuance:
            if r.unknown:
                lines.append(f"{r.organization}/issue: {r.unknown} outcome(s) unknown")
            lines += [f"{r.organization}/issue: {e}" for e in r.errors]
        return lines

    @property
    def ok(self) -> bool:
        return self.sync.ok and all(r.ok for r in self.issuance)

    @property
    def misconfigured(self) -> bool:
        """An organization could not even start: its settings or its plugin are wrong."""
        return any(s.failure == Kind.CONFIGURATION for s in self.sync.streams) or any(
            r.misconfigured for r in self.issuance
        )

    @property
    def exit_code(self) -> int:
        """0 all done; 3 an organization's configuration is wrong; 1 anything else failed."""
        if self.misconfigured:
            return 3
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        data = self.sync.as_dict()
        data.update(
            ok=self.ok,
            issued=self.issued,
            issue=[{**asdict(r), "ok": r.ok} for r in self.issuance],
            failures=self.failures,
            exit_code=self.exit_code,
        )
        return data

    def summary(self) -> str:
        """The line staff read: totals, then "all ok" or what failed and why."""
        totals = self.sync.totals()
        line = (
            f"sync run {self.run_id}: {totals['pages']} pages, {totals['records']} records, "
            f"{totals['new']} new, {totals['changed']} changed, "
            f"{totals['quarantined']} quarantined, "
            f"credit +{totals['credits_converted']}/-{totals['credits_reversed']} entries"
        )
        if totals["withdrawn"]:  # certificates no longer listed after a complete read
            line += f", {totals['withdrawn']} certificate(s) withdrawn"
        if self.issuance:
            refused = sum(r.refused for r in self.issuance)
            line += f", {self.issued} certificates issued"
            if refused:
                line += f", {refused} refused"
        failures = self.failures
        if not failures:
            return line + "; all ok"
        return line + "; FAILED:" + "".join(f"\n  {f}" for f in failures)


def check_data_files(gw: Gateway) -> None:
    """Read the catalogue and the credit rules now: a broken file is a configuration error
    before anything is recorded."""
    gw.catalogue  # noqa: B018
    if gw.settings.rules_file:
        load_rules(gw.settings.rules_file)


async def run_nightly(
    gw: Gateway,
    *,
    organizations: list[str] | None = None,
    full: bool = False,
    since: datetime | None = None,
    issue: bool = False,
    progress: ProgressFn | None = None,
) -> NightlyReport:
    """Sync every (or the named) organization; with ``issue``, ask for certificates for
    passed candidates and, when any were issued, sync again to record them in the same run."""
    names = gw.organization_names(organizations)
    check_data_files(gw)
    options = {"organizations": names, "full": full, "issue": issue}
    if since is not None:
        options["since"] = since.isoformat()
    run_id = await start_run(gw, options)
    report = NightlyReport(
        await run_sync(
            gw, organizations=names, full=full, since=since, progress=progress, run_id=run_id
        )
    )
    if issue:
        report.issuance = await issue_all(gw, names, run_id=run_id)
        if report.issued:  # pull what was just issued
            more = await run_sync(gw, organizations=names, run_id=run_id, progress=progress)
            report.sync.streams += [s for s in more.streams if s.records or s.status != "ok"]
    if not all(r.ok for r in report.issuance):
        await mark_run_failed(gw, run_id)
    gw.db.check_intact()
    await gw.checkpoint()  # a long-lived worker signs after each run, not only at exit
    return report
