"""``xgate worker``: one procrastinate worker process with the gateway it lends its jobs.

Invariant: the worker owns one ``Gateway`` (database engine, plugins, one HTTP client per
organization) shared by its concurrent jobs, and never anything a job must remember: killed
with ``kill -9`` at any moment, its jobs are requeued by the next worker that notices its
missing heartbeats (every worker checks every ``stalled_after / 2`` seconds and at start), and
they continue from the database's cursors and outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import procrastinate
from aiohttp import web

from gateway.health import add_health_routes
from gateway.jobs.engine import requeue_stalled
from gateway.runtime import Gateway

log = logging.getLogger("xgate.worker")


@dataclass
class WorkerOptions:
    concurrency: int = 4
    queues: Iterable[str] | None = None
    name: str | None = None
    wait: bool = True  # False: return once the queues are empty (tests, one-shot runs)
    health_host: str = "127.0.0.1"
    health_port: int | None = None  # /livez, /readyz, /metrics; None: no HTTP at all


async def _watch_stalled(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        await asyncio.sleep(max(stalled_after / 2, 0.1))
        try:
            await requeue_stalled(app, stalled_after)
        except Exception as exc:  # the database went away for a moment: try again later
            log.warning("checking for stalled jobs failed: %s", exc)


@contextlib.asynccontextmanager
async def _health_server(
    gw: Gateway, options: WorkerOptions, running: asyncio.Task[None]
) -> AsyncIterator[int | None]:
    if options.health_port is None:
        yield None
        return

    def worker_running() -> str | None:
        return None if not running.done() else "the job loop has stopped"

    web_app = web.Application()
    add_health_routes(web_app, gw, [worker_running])
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, options.health_host, options.health_port)
    await site.start()
    server: Any = site._server
    port = int(server.sockets[0].getsockname()[1]) if server is not None else None
    try:
        yield port
    finally:
        await runner.cleanup()


async def run_worker(gw: Gateway, app: procrastinate.App, options: WorkerOptions) -> None:
    """Run jobs until stopped (SIGINT/SIGTERM finish the running jobs first), or with
    ``wait=False`` until the queues are empty."""
    settings = gw.settings.worker
    await requeue_stalled(app, settings.stalled_after)
    worker = asyncio.ensure_future(
        app.run_worker_async(
            concurrency=options.concurrency,
            queues=list(options.queues) if options.queues else None,  # type: ignore[arg-type]
            name=options.name or f"{socket.gethostname()}-{id(gw):x}",
            wait=options.wait,
            additional_context={"gateway": gw},
            install_signal_handlers=options.wait,
            update_heartbeat_interval=settings.heartbeat,
            stalled_worker_timeout=settings.stalled_after,
            fetch_job_polling_interval=min(5.0, settings.heartbeat),
            delete_jobs="never",
        )
    )
    watcher = asyncio.ensure_future(_watch_stalled(app, settings.stalled_after))
    try:
        async with _health_server(gw, options, worker) as port:
            if port is not None:
                log.warning("worker health and metrics on http://%s:%d", options.health_host, port)
            await worker
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
