"""What ``xgate jobs`` and the console show and do: list, retry, cancel, queue now.

Invariant: these only ask procrastinate's job manager; retrying or cancelling a job never
touches xgate's own tables (the work it stands for is idempotent), and a job id that does not
exist or is in the wrong state is a clear ``InputError``, not a database traceback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import procrastinate

from gateway.errors import InputError
from gateway.jobs.tasks import defer, defer_nightly, defer_sync
from gateway.runtime import Gateway

STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")
KINDS = ("nightly", "sync", "deliver", "reconcile", "issue", "weekly_report")


@dataclass
class JobRow:
    id: int
    task: str
    queue: str
    status: str
    lock: str | None
    args: dict[str, Any]
    attempts: int
    scheduled_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def list_jobs(
    app: procrastinate.App,
    *,
    status: str | None = None,
    queue: str | None = None,
    task: str | None = None,
    limit: int = 50,
) -> list[JobRow]:
    """The most recent jobs first, filtered."""
    if status is not None and status not in STATUSES:
        raise InputError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    jobs = await app.job_manager.list_jobs_async(status=status, queue=queue, task=task)
    rows = [
        JobRow(
            id=int(j.id or 0),
            task=j.task_name,
            queue=j.queue,
            status=str(getattr(j.status, "value", j.status)),
            lock=j.lock,
            args=dict(j.task_kwargs),
            attempts=j.attempts,
            scheduled_at=j.scheduled_at,
        )
        for j in jobs
    ]
    return sorted(rows, key=lambda r: r.id, reverse=True)[:limit]


async def _one(app: procrastinate.App, job_id: int) -> JobRow:
    found = [r for r in await list_jobs(app, limit=1_000_000) if r.id == job_id]
    if not found:
        raise InputError(f"no job {job_id}")
    return found[0]


async def retry_job(app: procrastinate.App, job_id: int) -> JobRow:
    """Run a failed job again now (a stuck ``doing`` one too: its worker is gone)."""
    job = await _one(app, job_id)
    if job.status not in ("failed", "doing"):
        raise InputError(f"job {job_id} is {job.status}; only failed jobs can be retried")
    await app.job_manager.retry_job_by_id_async(job_id, retry_at=dt.datetime.now(dt.UTC))
    return await _one(app, job_id)


async def cancel_job(app: procrastinate.App, job_id: int, *, abort: bool = False) -> JobRow:
    """Cancel a waiting job (``abort``: also ask a running one to stop)."""
    job = await _one(app, job_id)
    if not await app.job_manager.cancel_job_by_id_async(job_id, abort=abort):
        how = "waiting or running" if abort else "waiting (use --abort for a running one)"
        raise InputError(f"job {job_id} is {job.status}; only {how} jobs can be cancelled")
    return await _one(app, job_id)


async def queue_now(
    app: procrastinate.App,
    gw: Gateway,
    kind: str,
    *,
    organizations: list[str] | None = None,
    plan: str | None = None,
) -> list[int]:
    """Queue work now, as the schedule would: ``nightly`` (delivery, then sync, issue, sync
    again per organization), ``sync`` (every stream of the organizations), ``deliver`` (one
    plan), ``reconcile``, ``issue``, ``weekly_report``."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    names = gw.organization_names(organizations)
    if kind == "nightly":
        return await defer_nightly(app, gw)
    if kind == "sync":
        return await defer_sync(app, gw, names)
    if kind == "weekly_report":
        job = await defer(app, "xgate.weekly_report", lock="report:weekly")
        return [job] if job is not None else []
    if kind == "deliver":
        if plan is None or len(names) != 1:
            raise InputError("deliver needs one --org and --plan")
        job = await defer(
            app, "xgate.deliver", lock=f"outbox:{names[0]}", organization=names[0], plan=plan
        )
        return [job] if job is not None else []
    task = "xgate.reconcile" if kind == "reconcile" else "xgate.issue"
    prefix = "outbox" if kind == "reconcile" else "issue"
    ids = [await defer(app, task, lock=f"{prefix}:{n}", organization=n) for n in names]
    return [i for i in ids if i is not None]
