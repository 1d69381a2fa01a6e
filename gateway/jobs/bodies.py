"""The work itself, as plain core functions: what a job runs and what ``xgate sync`` runs.

Invariant: each body works on one organization (one stream, one plan) and keeps no state of
its own; it reads where to start from the database (cursors, outbox, issue requests) and
commits its progress there, so calling it again, after a crash or from a second worker, only
continues. ``exclusive`` makes sure one organization stream (or one organization's outbox or
issuance) is worked on by one process at a time on PostgreSQL: a session advisory lock held
on a connection of its own, released by PostgreSQL itself when the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from gateway.errors import XgateError
from gateway.failures import Operation, decide, log_failure
from gateway.issuance import IssueReport, issue_for
from gateway.nightly import NightlyReport, run_nightly
from gateway.outbox import DeliveryReport, ReconcileReport, deliver, reconcile
from gateway.reports.mail import send_report, weekly_message
from gateway.reports.period import Week, last_full_week
from gateway.reports.weekly import weekly_report
from gateway.reports.workbook import write_weekly_xlsx
from gateway.runtime import Gateway
from gateway.store import tables as t
from gateway.sync import (
    STREAM_ORDER,
    CreditHook,
    StreamReport,
    SyncReport,
    finish_run,
    start_run,
    sync_stream,
)

log = logging.getLogger("xgate.jobs")


class Busy(XgateError):
    """Someone else holds this organization stream right now; try again later."""


def lock_key(schema: str | None, name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` within one xgate schema."""
    digest = hashlib.sha256(f"xgate\x1f{schema or ''}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def exclusive(gw: Gateway, name: str) -> AsyncIterator[None]:
    """Hold ``name`` for the duration of the block, or raise ``Busy`` at once.

    PostgreSQL only (a no-op on SQLite, where one process does the work). The lock lives on a
    connection of its own, so the work's transactions are unaffected and a process killed
    while holding it releases it with its connection.
    """
    if gw.db.is_sqlite:
        yield
        return
    key = lock_key(gw.db.schema, name)
    async with gw.db.engine.connect() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        await conn.commit()
        if not got:
            raise Busy(f"{name} is being worked on by another process")
        try:
            yield
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
            except BaseException:
                # never hand a connection that may still hold the lock back to the pool
                await conn.invalidate()
                raise


@contextlib.asynccontextmanager
async def exclusive_all(gw: Gateway, names: list[str]) -> AsyncIterator[None]:
    """Hold every one of ``names`` (all or nothing: ``Busy`` releases what it took)."""
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            await stack.enter_async_context(exclusive(gw, name))
        yield


def streams_of(gw: Gateway, organization: str) -> list[str]:
    """The streams an organization's plugin offers, in sync order."""
    org = gw.organization(organization)
    return [c.value for c in STREAM_ORDER if org.can(c)]


async def sync_one_stream(
    gw: Gateway,
    organization: str,
    stream: str,
    *,
    full: bool = False,
    since: datetime | None = None,
    origin: dict[str, Any] | None = None,
) -> StreamReport:
    """Sync one organization stream as a run of its own (recorded in ``xgate runs``).

    Same ``sync_stream`` the nightly ``xgate sync`` runs, same failure policy
    (``gateway.failures``); a failure is in the report (status ``failed`` or ``deferred``,
    with the reason), never raised, except ``Busy``.
    """
    async with exclusive(gw, f"sync:{organization}:{stream}"):
        options = {"organizations": [organization], "streams": [stream], "full": full}
        run_id = await start_run(gw, {**options, **(origin or {})})
        try:
            org = gw.organization(organization)
            report = await sync_stream(
                gw, org, stream, run_id, full=full, since=since, credit=CreditHook(gw)
            )
        except Exception as exc:  # before the first page (configuration, plugin, database)
            decision = decide(exc, Operation.READ)
            log_failure(log, f"{organization}/{stream}", exc, decision)
            report = StreamReport(organization, stream, status="failed", error=decision.reason)
        await finish_run(gw, SyncReport(run_id=run_id, streams=[report]))
        return report


async def nightly_organization(gw: Gateway, organization: str) -> NightlyReport:
    """The nightly workflow for one organization: ``gateway.nightly.run_nightly`` (sync,
    issue, sync again, one failure policy), holding that organization's streams and issuance."""
    held = [f"sync:{organization}:{s}" for s in streams_of(gw, organization)]
    async with exclusive_all(gw, [*held, f"issue:{organization}"]):
        return await run_nightly(gw, organizations=[organization], issue=True)


async def weekly_report_file(gw: Gateway, folder: Path, week: Week | None = None) -> Path:
    """The weekly progress report of the last full week (or ``week``), as ``xgate report
    weekly`` writes it, into ``folder``; sent to ``[report.email]`` when that is set."""
    the_week = week or last_full_week()
    async with gw.db.connect() as conn:
        report = await weekly_report(conn, the_week, college=gw.settings.report.college)
    target = folder / f"weekly-{the_week.label}.xlsx"
    await asyncio.to_thread(write_weekly_xlsx, report, target)
    mail = gw.settings.report.email
    if mail is not None:
        await send_report(weekly_message(report, target, mail), mail)
    return target


async def deliver_plan(gw: Gateway, organization: str, plan_code: str) -> DeliveryReport:
    """Send one plan's pending registrations through the outbox (never twice)."""
    async with exclusive(gw, f"outbox:{organization}"):
        return await deliver(gw, organization, plan_code=plan_code)


async def reconcile_organization(gw: Gateway, organization: str) -> ReconcileReport:
    """Settle one organization's unknown registrations by asking it."""
    async with exclusive(gw, f"outbox:{organization}"):
        return await reconcile(gw, organization)


async def issue_organization(gw: Gateway, organization: str) -> IssueReport:
    """Ask one organization to issue certificates for passed candidates (never twice)."""
    async with exclusive(gw, f"issue:{organization}"):
        return await issue_for(gw, organization)


#: outbox states a delivery job settles (``deliver`` reconciles sent and unknown ones first)
UNSETTLED = ("pending", "sent", "unknown")


async def pending_plans(gw: Gateway) -> list[tuple[str, str]]:
    """(organization, plan) pairs with registrations not settled yet: waiting to be sent, or
    sent by a process that died, or with an unknown outcome."""
    reg = t.registrations
    names = gw.organization_names()
    async with gw.db.connect() as conn:
        rows = await conn.execute(
            select(reg.c.organization, reg.c.plan_code)
            .where(reg.c.status.in_(UNSETTLED), reg.c.organization.in_(names))
            .distinct()
            .order_by(reg.c.organization, reg.c.plan_code)
        )
        return [(r.organization, r.plan_code) for r in rows]
