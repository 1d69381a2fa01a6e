"""``xgate worker`` and ``xgate jobs list|retry|cancel|queue`` (PostgreSQL only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from gateway.cli import state
from gateway.cli.options import JsonOpt
from gateway.cli.output import EXIT_FAILURES, console, fail, print_json, run_async, table
from gateway.masking import mask_text

T = TypeVar("T")
app = typer.Typer(help="Jobs on PostgreSQL: list, retry, cancel, queue now.", no_args_is_help=True)


def _with_app(work: Callable[[Any, Any], Awaitable[T]], *, schedules: bool = False) -> T:
    """Run ``work(gateway, procrastinate_app)`` with both open; engine errors exit 1."""

    async def go() -> T:
        from procrastinate.exceptions import ConnectorException

        from gateway.jobs.engine import conninfo, open_app
        from gateway.settings import load_settings

        conninfo(load_settings(state.CONFIG))  # on SQLite: say so before anything else
        async with state.open_existing() as gw:
            try:
                async with open_app(gw.settings, schedules=schedules) as jobs:
                    return await work(gw, jobs)
            except ConnectorException as exc:
                fail(f"job engine error: {type(exc.__cause__ or exc).__name__}", EXIT_FAILURES)

    return run_async(go)


def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, help="jobs at once (default \\[worker])")
    ] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", help="only these queues: sync, outbox, issue, schedule"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="address for health and metrics")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int | None, typer.Option("--port", help="serve /livez, /readyz, /metrics here")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="run what is queued, then exit (no schedules)")
    ] = False,
) -> None:
    """Run jobs and the \\[schedule] until stopped (SIGTERM finishes running jobs first)."""
    from gateway.jobs.tasks import QUEUES

    unknown = sorted(set(queue or []) - set(QUEUES))
    if unknown:
        fail(f"--queue: unknown queue(s) {', '.join(unknown)} (known: {', '.join(QUEUES)})")

    async def work(gw: Any, jobs: Any) -> None:
        from gateway.jobs.worker import WorkerOptions, run_worker

        options = WorkerOptions(
            concurrency=concurrency or gw.settings.worker.concurrency,
            queues=queue,
            wait=not once,
            health_host=host,
            health_port=port,
        )
        await run_worker(gw, jobs, options)

    _with_app(work, schedules=not once)


@app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option("--status", help="todo, doing, failed, ...")] = None,
    queue: Annotated[str | None, typer.Option("--queue")] = None,
    task: Annotated[str | None, typer.Option("--task", help="e.g. xgate.sync_stream")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Recent jobs, newest first."""

    async def work(gw: Any, jobs: Any) -> list[dict[str, Any]]:
        from gateway.jobs.queue import list_jobs

        rows = await list_jobs(jobs, status=status, queue=queue, task=task, limit=limit)
        return [r.as_dict() for r in rows]

    rows = _with_app(work)
    if as_json:
        print_json({"jobs": rows})
        return
    table(
        "jobs",
        ["id", "task", "queue", "status", "attempts", "lock", "arguments", "scheduled"],
        [
            [
                r["id"],
                r["task"],
                r["queue"],
                r["status"],
                r["attempts"],
                r["lock"] or "",
                mask_text(", ".join(f"{k}={v}" for k, v in r["args"].items())),
                r["scheduled_at"] or "",
            ]
            for r in rows
        ],
    )


@app.command("retry")
def retry_cmd(job: Annotated[int, typer.Argument(help="job id")], as_json: JsonOpt = False) -> None:
    """Run a failed job again now."""

    async def work(gw: Any, jobs: Any) -> dict[str, Any]:
        from gateway.jobs.queue import retry_job

        return (await retry_job(jobs, job)).as_dict()

    row = _with_app(work)
    print_json(row) if as_json else console.print(f"job {row['id']} is {row['status']} again")


@app.command("cancel")
def cancel_cmd(
    job: Annotated[int, typer.Argument(help="job id")],
    abort: Annotated[bool, typer.Option("--abort", help="also stop it if running")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a waiting job (with --abort, ask a running one to stop)."""

    async def work(gw: Any, jobs: Any) -> dict[str, Any]:
        from gateway.jobs.queue import cancel_job

        return (await cancel_job(jobs, job, abort=abort)).as_dict()

    row = _with_app(work)
    print_json(row) if as_json else console.print(f"job {row['id']} is {row['status']}")


@app.command("queue")
def queue_cmd(
    kind: Annotated[
        str, typer.Argument(help="nightly, sync, deliver, reconcile, issue or weekly_report")
    ],
    org: Annotated[list[str] | None, typer.Option("--org", help="only this organization")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="the plan (deliver)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue work now instead of waiting for the schedule (a worker runs it)."""

    async def work(gw: Any, jobs: Any) -> list[int]:
        from gateway.jobs.queue import queue_now

        return await queue_now(jobs, gw, kind, organizations=org, plan=plan)

    ids = _with_app(work)
    if as_json:
        print_json({"queued": ids})
    else:
        console.print(
            f"queued {len(ids)} job(s)"
            + (f": {', '.join(map(str, ids))}" if ids else " (identical jobs were already waiting)")
        )
