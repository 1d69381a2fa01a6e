"""The job queue as the web console's dashboard shows it: counts by status and recent jobs.

Invariant: read-only, from procrastinate's table through the gateway's own connection (the
console opens no job engine), and only when there is one: on SQLite, or on a PostgreSQL
database no worker has used yet, there is no board (``None``), not an error. A job's
arguments name organizations, streams and plans only, never a person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

SHOWN_ARGS = ("organization", "stream", "plan")


@dataclass
class JobLine:
    id: int
    task: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    args: dict[str, str] = field(default_factory=dict)


@dataclass
class JobBoard:
    counts: dict[str, int]
    recent: list[JobLine]

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "recent": [asdict(j) for j in self.recent]}


async def job_board(conn: AsyncConnection, limit: int = 15) -> JobBoard | None:
    """Jobs per status and the ``limit`` most recent ones; None without a job queue."""
    if conn.dialect.name != "postgresql":
        return None
    if (await conn.execute(text("SELECT to_regclass('procrastinate_jobs')"))).scalar() is None:
        return None
    counts = {
        status: int(n)
        for status, n in await conn.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")
        )
    }
    rows = await conn.execute(
        text(
            "SELECT id, task_name, status::text, attempts, scheduled_at, args "
            "FROM procrastinate_jobs ORDER BY id DESC LIMIT :limit"
        ),
        {"limit": limit},
    )
    recent = [
        JobLine(
            id=int(r.id),
            task=str(r.task_name),
            status=str(r.status),
            attempts=int(r.attempts),
            scheduled_at=r.scheduled_at,
            args={k: str(v) for k, v in (r.args or {}).items() if k in SHOWN_ARGS},
        )
        for r in rows
    ]
    return JobBoard(counts, recent)
