"""The nightly sync: every organization's scores and certificates, page by page, exactly once
in effect.

Pages are applied in transactions of one or a few pages (those already fetched, see
``_page_groups``): validate, upsert by natural key (with history), convert to credit for the
people the pages touched, and store the stream's newest cursor, all or nothing. A killed run
resumes from the last committed cursor; a page delivered twice changes nothing. Organizations
run concurrently (bounded); one failing organization is reported and never stops the others.

A certificates read the adapter marks complete (``Page.complete`` on its last page) is a
snapshot: once it ended with no failed page, no quarantined record and no ``--since`` window,
the organization's valid certificates it did not list are withdrawn and their credit reversed,
in one transaction after the last page (the numbers listed are kept in memory, so a snapshot of
any size costs a handful of extra statements, not one per record).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.contract import Capability, Page
from gateway.credit.accounts import ensure_accounts
from gateway.credit.conversion import reconcile_accounts
from gateway.credit.rules import RuleSet, load_rules
from gateway.failures import Action, Decision, Operation, decide, log_failure
from gateway.models import CertificateRecord, ScoreRecord
from gateway.records import (
    PageResult,
    Person,
    PlanCertificates,
    Withdrawn,
    apply_certificates,
    apply_scores,
    quarantine,
    validate_items,
    withdraw_unlisted,
)
from gateway.runtime import Gateway, Organization
from gateway.store import tables as t

log = logging.getLogger("xgate.sync")
STREAM_ORDER = (Capability.SCORES, Capability.CERTIFICATES)
#: consecutive failures of one stream (no page committed in between) before it gives up
STREAM_ATTEMPTS = 3


@dataclass
class StreamReport:
    organization: str
    stream: str
    status: str = "running"  # ok, failed, deferred, skipped
    pages: int = 0
    records: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    retries: int = 0
    requests: int = 0
    credits_converted: int = 0
    credits_reversed: int = 0
    withdrawn: int = 0
    restored: int = 0
    error: str | None = None
    #: what kind of failure (``gateway.failures.Kind``), None when it did not fail
    failure: str | None = None
    duration: float = 0.0


@dataclass
class SyncReport:
    run_id: int
    streams: list[StreamReport] = field(default_factory=list)
    issued: int = 0

    @property
    def failed(self) -> list[StreamReport]:
        return [s for s in self.streams if s.status in ("failed", "deferred")]

    @property
    def ok(self) -> bool:
        return not self.failed

    def totals(self) -> dict[str, int]:
        keys = (
            "pages",
            "records",
            "new",
            "changed",
            "quarantined",
            "withdrawn",
            "credits_converted",
            "credits_reversed",
        )
        return {k: sum(getattr(s, k) for s in self.streams) for k in keys}

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "issued": self.issued,
            "totals": self.totals(),
            "streams": [asdict(s) for s in self.streams],
        }


ProgressFn = Callable[[str, str, int], None]


class CreditHook:
    """The sync's link to the credit bank: accounts for everyone a page touched, then
    desired-state conversion for exactly those accounts, inside the page's transaction."""

    def __init__(self, gw: Gateway) -> None:
        path = gw.settings.rules_file
        self.rules: RuleSet | None = load_rules(path) if path else None

    async def apply(
        self, conn: AsyncConnection, people: Mapping[str, Person], run_id: int, now: datetime
    ) -> tuple[list[Any], list[Any]]:
        """Accounts for ``people`` (by id hash), then their credit reconciled."""
        if not people:
            return [], []
        rows = [(p.id_hash, p.id_masked, p.name, "student") for p in people.values()]
        created: set[str] = set()
        await ensure_accounts(conn, rows, now=now, created=created)
        return await self.reconcile(conn, list(people), run_id, now, fresh=created)

    async def reconcile(
        self,
        conn: AsyncConnection,
        id_hashes: list[str],
        run_id: int,
        now: datetime,
        fresh: set[str] | None = None,
    ) -> tuple[list[Any], list[Any]]:
        outcome = await reconcile_accounts(
            conn, id_hashes, self.rules, run_id=run_id, now=now, fresh=fresh or ()
        )
        return list(outcome.converted), list(outcome.reversed)


async def start_run(gw: Gateway, options: dict[str, Any]) -> int:
    async with gw.db.begin() as conn:
        run_id = (
            await conn.execute(
                t.sync_runs.insert()
                .values(started_at=datetime.now(UTC), status="running", options=options)
                .returning(t.sync_runs.c.id)
            )
        ).scalar_one()
    return int(run_id)


async def _load_cursor(gw: Gateway, organization: str, stream: str) -> str | None:
    async with gw.db.connect() as conn:
        return (
            await conn.execute(
                select(t.sync_cursors.c.cursor).where(
                    t.sync_cursors.c.organization == organization,
                    t.sync_cursors.c.stream == stream,
                )
            )
        ).scalar_one_or_none()


async def _save_cursor(
    conn: AsyncConnection, organization: str, stream: str, cursor: str, run_id: int, now: datetime
) -> None:
    updated = await conn.execute(
        t.sync_cursors.update()
        .where(t.sync_cursors.c.organization == organization, t.sync_cursors.c.stream == stream)
        .values(cursor=cursor, run_id=run_id, updated_at=now)
    )
    if updated.rowcount == 0:
        await conn.execute(
            t.sync_cursors.insert().values(
                organization=organization,
                stream=stream,
                cursor=cursor,
                run_id=run_id,
                updated_at=now,
            )
        )


#: Pages applied in one transaction at most (see ``_page_groups``).
GROUP_PAGES = 32


class _End:
    """The stream's end, queued after its last page."""


@dataclass(frozen=True)
class _Failed:
    """A fetch that failed, queued where its page would have been."""

    error: Exception


async def _page_groups(
    pages: AsyncIterator[Page[Any]], most: int = GROUP_PAGES
) -> AsyncGenerator[list[Page[Any]], None]:
    """The same pages, in the same order, in groups to apply in one transaction each, fetched
    ahead while the previous group is applied.

    A stream's requests stay one at a time (a page's cursor comes from the page before); what
    overlaps is the fetching and mapping of the next pages (in a task of their own, at most
    ``most`` pages ahead) and the current group's transaction. A group is the pages already
    fetched when the previous transaction ended, up to ``most``: a slow organization's pages
    go one per transaction as they arrive (no transaction is held open waiting for the
    network, which would keep other writers out), a fast one's share a transaction, its WAL
    writes and its commit. Nothing about checkpoints changes: a group's cursor is stored only
    with its records, so pages fetched ahead and then lost (a crash, a failed page) are simply
    read again on resume. An error while fetching ahead surfaces where it would have without
    read-ahead: after every earlier page has been applied. Close it (``aclosing``) so an
    abandoned fetch is cancelled.

    The first page is applied alone, before anything is fetched ahead, so a run cut short at
    its second request has always committed a page: a job that keeps being killed early (a
    tight timeout) still makes progress from one run to the next.
    """
    source = aiter(pages)
    try:
        first = await anext(source)
    except StopAsyncIteration:
        await _close(source)
        return
    queue: asyncio.Queue[Page[Any] | _End | _Failed] = asyncio.Queue(maxsize=most)

    async def fetch_ahead() -> None:
        try:
            while True:
                try:
                    page = await anext(source)
                except StopAsyncIteration:
                    await queue.put(_End())
                    return
                await queue.put(page)
        except Exception as exc:  # surfaces when the pages before it are applied
            await queue.put(_Failed(exc))

    ahead: asyncio.Task[None] | None = None
    try:
        yield [first]
        ahead = asyncio.ensure_future(fetch_ahead())
        while True:
            item = await queue.get()
            group: list[Page[Any]] = []
            while isinstance(item, Page):
                group.append(item)  # at most ``most``: the queue holds no more
                if queue.empty():
                    break
                item = queue.get_nowait()
            if group:
                yield group
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
    finally:
        if ahead is not None:
            if not ahead.done():
                ahead.cancel()
                await asyncio.wait([ahead])  # our own cancellation still propagates
            if not ahead.cancelled():
                ahead.exception()  # its errors went through the queue
        await _close(source)


async def _close(source: AsyncIterator[Page[Any]]) -> None:
    closer = getattr(source, "aclose", None)
    if closer is not None:
        await closer()


async def sync_stream(
    gw: Gateway,
    org: Organization,
    stream: str,
    run_id: int,
    *,
    full: bool = False,
    since: datetime | None = None,
    credit: CreditHook | None = None,
    progress: ProgressFn | None = None,
) -> StreamReport:
    """One stream of one organization; never raises for an organization's failure: the
    report says what happened (and keeps what was committed before it happened)."""
    report, _ = await _run_stream(gw, org, stream, run_id, full, since, credit, progress)
    return report


async def _run_stream(
    gw: Gateway,
    org: Organization,
    stream: str,
    run_id: int,
    full: bool,
    since: datetime | None,
    credit: CreditHook | None,
    progress: ProgressFn | None,
) -> tuple[StreamReport, Decision | None]:
    report = StreamReport(org.name, stream)
    started = time.monotonic()
    stats_before = (org.client.stats.requests, org.client.stats.retries)
    cursor = None if full else await _load_cursor(gw, org.name, stream)
    starter = org.since()
    if since is not None and starter is not None:  # _sync_org refused an adapter without it
        cursor = starter.cursor_since(stream, since)
    model: type[ScoreRecord] | type[CertificateRecord] = (
        ScoreRecord if stream == "scores" else CertificateRecord
    )
    failures = 0
    decision: Decision | None = None
    # numbers a certificates read listed, while it can still turn out a clean snapshot
    listed: set[str] | None = set() if model is CertificateRecord and since is None else None
    read_since = datetime.now(UTC)
    complete = False
    plans = PlanCertificates(org.name)  # read once for the stream, not per page
    while True:
        try:
            reading = _page_groups(gw.stream(org, stream, cursor))
            async with contextlib.aclosing(reading) as groups:
                async for group in groups:
                    failures = 0
                    stored = await apply_pages(
                        gw, org, stream, model, group, run_id, report, credit, listed, plans
                    )
                    if stored is not None:
                        cursor = stored
                    complete = group[-1].complete
                    if progress is not None:
                        for page in group:
                            progress(org.name, stream, len(page.records))
            if complete and listed is not None and not report.quarantined:
                await _withdraw(gw, org, listed, read_since, run_id, report, credit)
            report.status = "ok"
            break
        except Exception as exc:  # the failure policy decides; see gateway.failures
            decision = decide(exc, Operation.READ)
            failures += 1
            listed = None  # a read with a failed page is never a snapshot
            if decision.action is Action.RETRY and failures < STREAM_ATTEMPTS:
                log_failure(log, f"{org.name}/{stream} (attempt {failures})", exc, decision)
                # resume from ``cursor``: the start (stored, --full or --since) or the last page
                # committed in this run; never reload the stored one, which would silently skip
                # a --since window or re-read a --full run from the middle
                continue
            log_failure(log, f"{org.name}/{stream}", exc, _final(decision))
            report.status = "deferred" if decision.action is Action.DEFER else "failed"
            report.error = decision.reason
            report.failure = decision.kind.value
            break
        finally:
            report.duration = round(time.monotonic() - started, 3)
            report.requests = org.client.stats.requests - stats_before[0]
            report.retries = org.client.stats.retries - stats_before[1]
    return report, decision


def _final(decision: Decision) -> Decision:
    """A retry whose budget is spent is a failure of this stream for this run."""
    if decision.action is not Action.RETRY:
        return decision
    return Decision(Action.FAIL_ORGANIZATION, decision.kind, False, decision.reason)


async def apply_pages(
    gw: Gateway,
    org: Organization,
    stream: str,
    model: type[ScoreRecord] | type[CertificateRecord],
    pages: Sequence[Page[Any]],
    run_id: int,
    report: StreamReport,
    credit: CreditHook | None,
    listed: set[str] | None = None,
    plans: PlanCertificates | None = None,
) -> str | None:
    """Apply consecutive pages of one stream in one transaction (a webhook's page, alone and
    with ``next_cursor=None`` so no cursor moves, takes exactly this path: ``gateway.server``):
    each page validated and upserted with history in turn, then credit reconciled once for
    everyone they touched, and the last cursor stored. Then add their counts to ``report``
    and emit the broadcast hooks. Returns the cursor stored (None: none of the pages had one).

    Credit once per transaction is desired-state conversion over the pages' final state: the
    same outcome as per page, without converting and reversing in between (which the
    append-only ledger would keep).
    """
    now = datetime.now(UTC)
    results: list[PageResult] = []
    people: dict[str, Person] = {}
    converted: list[Any] = []
    reversed_: list[Any] = []
    cursor = next((p.next_cursor for p in reversed(pages) if p.next_cursor is not None), None)
    # pulled pages commit with their cursor, so a commit lost in a crash is simply read again;
    # a webhook's page (no cursor) must be durable before the organization hears "received"
    replayable = all(p.next_cursor is not None for p in pages)
    async with gw.db.begin(replayable=replayable) as conn:
        for page in pages:
            result = await _apply_records(
                gw, org, stream, model, page, run_id, now, conn, listed, plans
            )
            people.update(result.people)
            results.append(result)
        if credit is not None and people:
            converted, reversed_ = await credit.apply(conn, people, run_id, now)
        if cursor is not None:
            await _save_cursor(conn, org.name, stream, cursor, run_id, now)
    report.credits_converted += len(converted)
    report.credits_reversed += len(reversed_)
    for result in results:
        report.pages += 1
        report.records += result.records + result.quarantined
        report.new += result.new
        report.changed += result.changed
        report.unchanged += result.unchanged
        report.quarantined += result.quarantined
        report.restored += result.restored
        # broadcast hooks only after the commit: observers never see what was rolled back
        for hook, kwargs in result.events:
            gw.host.emit(hook, **kwargs)
    _emit_credit(gw, "xgate_credit_converted", converted)
    _emit_credit(gw, "xgate_credit_reversed", reversed_)
    return cursor


async def _apply_records(
    gw: Gateway,
    org: Organization,
    stream: str,
    model: type[ScoreRecord] | type[CertificateRecord],
    page: Page[Any],
    run_id: int,
    now: datetime,
    conn: AsyncConnection,
    listed: set[str] | None,
    plans: PlanCertificates | None,
) -> PageResult:
    """One page's records, validated and upserted inside the caller's transaction."""
    good, bad = validate_items(model, org.name, page.records)
    if listed is not None:
        listed.update(r.number for r in good if isinstance(r, CertificateRecord))
    result = PageResult()
    result.quarantined = await quarantine(conn, org.name, stream, run_id, bad, now, gw.keys)
    if model is ScoreRecord:
        await apply_scores(
            conn,
            org.name,
            [r for r in good if isinstance(r, ScoreRecord)],
            hash_id=gw.hash_id,
            catalogue=gw.catalogue,
            run_id=run_id,
            now=now,
            result=result,
            plans=plans,
        )
    else:
        await apply_certificates(
            conn,
            org.name,
            [r for r in good if isinstance(r, CertificateRecord)],
            hash_id=gw.hash_id,
            run_id=run_id,
            now=now,
            result=result,
        )
    return result


async def _withdraw(
    gw: Gateway,
    org: Organization,
    listed: set[str],
    read_since: datetime,
    run_id: int,
    report: StreamReport,
    credit: CreditHook | None,
) -> None:
    """After a complete certificates read: withdraw what it did not list, reverse its credit."""
    if not listed:
        # An empty snapshot is far likelier an organization's glitch than every certificate
        # withdrawn at once; it withdraws nothing (and says so).
        log.warning("%s/certificates: a complete read listed nothing; none withdrawn", org.name)
        return
    now = datetime.now(UTC)
    converted: list[Any] = []
    reversed_: list[Any] = []
    async with gw.db.begin() as conn:
        gone: list[Withdrawn] = await withdraw_unlisted(
            conn, org.name, listed, read_since=read_since, run_id=run_id, now=now
        )
        if gone and credit is not None:
            converted, reversed_ = await credit.reconcile(
                conn, sorted({w.id_hash for w in gone}), run_id, now
            )
    report.withdrawn += len(gone)
    report.credits_converted += len(converted)
    report.credits_reversed += len(reversed_)
    if gone:
        log.warning(
            "%s/certificates: %d certificate(s) no longer listed, marked withdrawn",
            org.name,
            len(gone),
        )
    for w in gone:
        gw.host.emit(
            "xgate_certificate_withdrawn", organization=org.name, number=w.number, reason=w.reason
        )
    _emit_credit(gw, "xgate_credit_converted", converted)
    _emit_credit(gw, "xgate_credit_reversed", reversed_)


def _emit_credit(gw: Gateway, hook: str, entries: list[Any]) -> None:
    by_account: dict[str, list[Any]] = {}
    for e in entries:
        by_account.setdefault(str(getattr(e, "account", "")), []).append(e)
    for account, items in by_account.items():
        gw.host.emit(hook, account=account, entries=items)


async def _sync_org(
    gw: Gateway,
    name: str,
    run_id: int,
    full: bool,
    credit: CreditHook | None,
    progress: ProgressFn | None,
    since: datetime | None = None,
) -> list[StreamReport]:
    reports: list[StreamReport] = []
    decision: Decision | None
    try:
        org = gw.organization(name)
    except Exception as exc:  # configuration or plugin problem: report this organization only
        failure = decide(exc, Operation.READ)
        log_failure(log, name, exc, failure)
        return [
            StreamReport(
                name, "*", status="failed", error=failure.reason, failure=failure.kind.value
            )
        ]
    streams = [c.value for c in STREAM_ORDER if org.can(c)]
    if since is not None and org.since() is None:
        return [
            StreamReport(
                name,
                s,
                status="failed",
                error=f"plugin {org.spec.name!r} cannot start at a date; use --full",
            )
            for s in streams
        ]
    for index, stream in enumerate(streams):
        try:
            report, decision = await _run_stream(
                gw, org, stream, run_id, full, since, credit, progress
            )
        except Exception as exc:  # before the first page: the stored cursor, the start date
            decision = decide(exc, Operation.READ)
            log_failure(log, f"{name}/{stream}", exc, decision)
            report = StreamReport(
                name, stream, status="failed", error=decision.reason, failure=decision.kind.value
            )
        reports.append(report)
        if decision is not None and report.status != "ok" and decision.stop:
            reports += [
                StreamReport(
                    name,
                    rest,
                    status=report.status,
                    error="not attempted: " + decision.reason,
                    failure=decision.kind.value,
                )
                for rest in streams[index + 1 :]
            ]
            break
    return reports


async def run_sync(
    gw: Gateway,
    *,
    organizations: list[str] | None = None,
    full: bool = False,
    progress: ProgressFn | None = None,
    run_id: int | None = None,
    since: datetime | None = None,
) -> SyncReport:
    names = gw.organization_names(organizations)
    if run_id is None:
        run_id = await start_run(gw, {"organizations": names, "full": full})
    credit = CreditHook(gw)
    limit = asyncio.Semaphore(gw.settings.sync_concurrency)

    async def one(name: str) -> list[StreamReport]:
        async with limit:
            return await _sync_org(gw, name, run_id, full, credit, progress, since)

    results = await asyncio.gather(*(one(n) for n in names))
    report = SyncReport(run_id=run_id, streams=[s for r in results for s in r])
    await finish_run(gw, report)
    return report


async def finish_run(gw: Gateway, report: SyncReport) -> None:
    status = (
        "ok"
        if report.ok
        else ("failed" if len(report.failed) == len(report.streams) else "partial")
    )
    async with gw.db.begin() as conn:
        await conn.execute(
            t.sync_runs.update()
            .where(t.sync_runs.c.id == report.run_id)
            .values(finished_at=datetime.now(UTC), status=status)
        )
        rows = [
            {
                "run_id": report.run_id,
                "organization": s.organization,
                "stream": s.stream,
                "status": s.status,
                "pages": s.pages,
                "records": s.records,
                "new": s.new,
                "changed": s.changed,
                "unchanged": s.unchanged,
                "quarantined": s.quarantined,
                "withdrawn": s.withdrawn,
                "retries": s.retries,
                "requests": s.requests,
                "error": s.error,
                "duration": Decimal(str(s.duration)),
            }
            for s in report.streams
        ]
        if rows:
            await conn.execute(t.sync_run_streams.insert(), rows)


async def mark_run_failed(gw: Gateway, run_id: int) -> None:
    """A run whose streams all succeeded but whose other work (issuance) did not: ``partial``,
    so ``xgate runs`` never shows it as ``ok``."""
    async with gw.db.begin() as conn:
        await conn.execute(
            t.sync_runs.update()
            .where(t.sync_runs.c.id == run_id, t.sync_runs.c.status == "ok")
            .values(status="partial")
        )
