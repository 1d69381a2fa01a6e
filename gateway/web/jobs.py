"""Submissions running in the background while the page shows progress.

A submission can take a while (the organization answers batch by batch), so the console starts
it as a task of the serving process and the progress page refreshes itself (a ``<meta
refresh>``, no script) until it is finished. The registrations themselves are safe whatever
happens to the task: they go through the outbox like every submission. A job is kept in memory
only; with several worker processes, put the console behind sticky sessions (docs/console.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.masking import mask_text

log = logging.getLogger("xgate.console")


@dataclass
class Job:
    token: str
    total: int
    done: int = 0
    finished: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def advance(self, n: int) -> None:
        self.done += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "finished": self.finished,
            "error": self.error,
            "result": self.result,
        }


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def get(self, token: str) -> Job | None:
        return self._jobs.get(token)

    def start(
        self,
        token: str,
        total: int,
        work: Callable[[Job], Awaitable[dict[str, Any]]],
    ) -> Job:
        """Start ``work`` unless a job for this upload is already running."""
        current = self._jobs.get(token)
        if current is not None and not current.finished:
            return current
        job = Job(token, total)

        async def run() -> None:
            try:
                job.result = await work(job)
            except Exception as exc:
                log.exception("console submission failed")
                job.error = mask_text(f"{type(exc).__name__}: {exc}")
            finally:
                job.finished = True

        job.task = asyncio.get_running_loop().create_task(run())
        self._jobs[token] = job
        return job

    async def wait(self, token: str) -> Job | None:
        job = self._jobs.get(token)
        if job is not None and job.task is not None:
            await asyncio.shield(job.task)
        return job

    async def aclose(self) -> None:
        for job in self._jobs.values():
            if job.task is not None and not job.task.done():
                await asyncio.wait([job.task])
