"""xgate's procrastinate tasks: thin wrappers that call the bodies in ``gateway.jobs.bodies``.

Invariant: a task only names its work (organization, stream, plan) and calls the body that
``xgate sync`` also uses; it never keeps state. Every job that touches one organization
carries a procrastinate ``lock`` naming it (so two jobs for one stream never run at once) and
a ``queueing_lock`` (so a schedule that fires while the last one still waits adds nothing).
A body's failure report becomes a raised ``JobFailed`` so the job shows ``failed`` (after the
configured attempts) in ``xgate jobs list``; other organizations' jobs never notice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from gateway.errors import XgateError
from gateway.jobs import bodies
from gateway.jobs.engine import prune_jobs
from gateway.logs import job_context
from gateway.metrics import record_job
from gateway.runtime import Gateway
from gateway.settings import Settings

log = logging.getLogger("xgate.jobs")
#: queues a worker can be limited to with ``xgate worker --queue``
QUEUES = ("sync", "outbox", "issue", "schedule")
#: runs of a job that found its stream busy before it gives up (each a few seconds apart)
BUSY_ATTEMPTS = 60


class JobFailed(XgateError):
    """The body ran and reported a failure (an organization down, a stream that failed)."""


class Retry(BaseRetryStrategy):
    """Busy: soon, many times. Failed: after ``retry_wait``, up to ``attempts`` runs."""

    def __init__(self, attempts: int, wait: float) -> None:
        self.attempts = attempts
        self.wait = wait

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, bodies.Busy):
            if job.attempts + 1 >= BUSY_ATTEMPTS:
                return None
            return RetryDecision(retry_in={"seconds": 2})
        if job.attempts + 1 >= self.attempts:
            return None
        return RetryDecision(retry_in={"seconds": int(self.wait)})


def gateway_of(context: JobContext) -> Gateway:
    gw = context.additional_context.get("gateway")
    if not isinstance(gw, Gateway):  # pragma: no cover - a worker always passes one
        raise RuntimeError("xgate tasks run in `xgate worker`, which passes the gateway")
    return gw


async def _run(context: JobContext, work: Callable[[Gateway], Awaitable[Any]]) -> Any:
    """Run one body with the job id on every log line, timed and counted for /metrics."""
    job = context.job
    started = time.monotonic()
    outcome = "failed"
    with job_context(job.id):
        try:
            result = await work(gateway_of(context))
            outcome = "ok"
            return result
        except bodies.Busy:
            outcome = "busy"
            raise
        finally:
            record_job(job.task_name, outcome, time.monotonic() - started)


async def defer(
    app: procrastinate.App, task: str, *, lock: str | None = None, **kwargs: Any
) -> int | None:
    """Queue one job; None when an identical one is already waiting (its queueing lock)."""
    try:
        return await app.configure_task(task, lock=lock, queueing_lock=lock).defer_async(**kwargs)
    except AlreadyEnqueued:
        return None


async def defer_sync(app: procrastinate.App, gw: Gateway, names: list[str]) -> list[int]:
    """A sync job per organization stream (an organization that cannot load: its first
    stream's job reports why)."""
    ids = []
    for name in names:
        try:
            streams = bodies.streams_of(gw, name)
        except Exception:
            streams = ["scores"]
        for stream in streams:
            job = await defer(
                app,
                "xgate.sync_stream",
                lock=f"sync:{name}:{stream}",
                organization=name,
                stream=stream,
            )
            ids += [job] if job is not None else []
    return ids


async def defer_nightly(app: procrastinate.App, gw: Gateway) -> list[int]:
    """The nightly fan-out: outbox delivery per plan with unsettled registrations, then the
    nightly workflow (sync, issue, sync again) per organization."""
    ids = []
    for name, plan in await bodies.pending_plans(gw):
        job = await defer(app, "xgate.deliver", lock=f"outbox:{name}", organization=name, plan=plan)
        ids += [job] if job is not None else []
    for name in gw.organization_names():
        job = await defer(app, "xgate.nightly_org", lock=f"nightly:{name}", organization=name)
        ids += [job] if job is not None else []
    return ids


def register(app: procrastinate.App, settings: Settings, *, schedules: bool = True) -> None:
    """Declare xgate's tasks on ``app`` and its periodic schedules from ``[schedule]``."""
    retry = Retry(settings.worker.attempts, settings.worker.retry_wait)

    @app.task(name="xgate.sync_stream", queue="sync", pass_context=True, retry=retry)
    async def sync_stream(context: JobContext, organization: str, stream: str) -> dict[str, Any]:
        async def work(gw: Gateway) -> dict[str, Any]:
            origin = {"job": context.job.id}
            report = await bodies.sync_one_stream(gw, organization, stream, origin=origin)
            if report.status != "ok":
                raise JobFailed(f"{organization}/{stream} {report.status}: {report.error}")
            return {"pages": report.pages, "records": report.records, "new": report.new}

        result: dict[str, Any] = await _run(context, work)
        return result

    @app.task(name="xgate.nightly_org", queue="sync", pass_context=True, retry=retry)
    async def nightly_org(context: JobContext, organization: str) -> dict[str, Any]:
        async def work(gw: Gateway) -> dict[str, Any]:
            report = await bodies.nightly_organization(gw, organization)
            if not report.ok:
                raise JobFailed("; ".join(report.failures[:5]))
            return {"run": report.run_id, "issued": report.issued, **report.sync.totals()}

        result: dict[str, Any] = await _run(context, work)
        return result

    @app.task(name="xgate.weekly_report", queue="schedule", pass_context=True, retry=retry)
    async def weekly(context: JobContext) -> str:
        async def work(gw: Gateway) -> str:
            return str(await bodies.weekly_report_file(gw, Path.cwd()))

        result: str = await _run(context, work)
        return result

    @app.task(name="xgate.deliver", queue="outbox", pass_context=True, retry=retry)
    async def deliver(context: JobContext, organization: str, plan: str) -> dict[str, Any]:
        async def work(gw: Gateway) -> dict[str, Any]:
            report = await bodies.deliver_plan(gw, organization, plan)
            if report.errors or report.unknown:
                raise JobFailed(f"{organization}/{plan}: " + "; ".join(report.errors[:3]))
            return {"sent": report.sent, "accepted": report.accepted}

        result: dict[str, Any] = await _run(context, work)
        return result

    @app.task(name="xgate.reconcile", queue="outbox", pass_context=True, retry=retry)
    async def reconcile(context: JobContext, organization: str) -> dict[str, Any]:
        async def work(gw: Gateway) -> dict[str, Any]:
            report = await bodies.reconcile_organization(gw, organization)
            if report.errors:
                raise JobFailed(f"{organization}: " + "; ".join(report.errors[:3]))
            return {"accepted": report.accepted, "still_unknown": report.still_unknown}

        result: dict[str, Any] = await _run(context, work)
        return result

    @app.task(name="xgate.issue", queue="issue", pass_context=True, retry=retry)
    async def issue(context: JobContext, organization: str) -> dict[str, Any]:
        async def work(gw: Gateway) -> dict[str, Any]:
            report = await bodies.issue_organization(gw, organization)
            if report.issued and "certificates" in bodies.streams_of(gw, organization):
                # pull what was just issued (the nightly "sync, issue, sync again")
                await defer(
                    context.app,
                    "xgate.sync_stream",
                    lock=f"sync:{organization}:certificates",
                    organization=organization,
                    stream="certificates",
                )
            if report.errors or report.unknown:
                raise JobFailed(f"{organization}: " + "; ".join(report.errors[:3]))
            return {"requested": report.requested, "issued": report.issued}

        result: dict[str, Any] = await _run(context, work)
        return result

    if schedules:
        _register_periodic(app, settings)


def _register_periodic(app: procrastinate.App, settings: Settings) -> None:
    schedule = settings.schedule

    if schedule.sync:

        @app.periodic(cron=schedule.sync, periodic_id="nightly")
        @app.task(
            name="xgate.nightly", queue="schedule", pass_context=True, queueing_lock="xgate.nightly"
        )
        async def nightly(context: JobContext, timestamp: int) -> int:
            async def work(gw: Gateway) -> int:
                return len(await defer_nightly(context.app, gw))

            result: int = await _run(context, work)
            return result

    if schedule.weekly_report:

        @app.periodic(cron=schedule.weekly_report, periodic_id="weekly")
        @app.task(
            name="xgate.weekly_report_schedule",
            queue="schedule",
            queueing_lock="xgate.weekly_report_schedule",
        )
        async def weekly_schedule(timestamp: int) -> int | None:
            return await defer(app, "xgate.weekly_report", lock="report:weekly")

    if schedule.prune_jobs:
        keep_days = settings.worker.keep_days

        @app.periodic(cron=schedule.prune_jobs, periodic_id="prune")
        @app.task(name="xgate.prune_jobs", queue="schedule", queueing_lock="xgate.prune_jobs")
        async def prune(timestamp: int) -> None:
            await prune_jobs(app, keep_days)

    if schedule.reconcile:

        @app.periodic(cron=schedule.reconcile, periodic_id="reconcile")
        @app.task(
            name="xgate.reconcile_all",
            queue="schedule",
            pass_context=True,
            queueing_lock="xgate.reconcile_all",
        )
        async def reconcile_all(context: JobContext, timestamp: int) -> int:
            async def work(gw: Gateway) -> int:
                ids = [
                    await defer(context.app, "xgate.reconcile", lock=f"outbox:{n}", organization=n)
                    for n in gw.organization_names()
                ]
                return len([i for i in ids if i is not None])

            result: int = await _run(context, work)
            return result
