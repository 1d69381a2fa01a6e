"""The procrastinate application for one xgate database.

Invariant: procrastinate's tables live in the same PostgreSQL database and schema as xgate's
(``database_url``, ``database_schema``), are created once by procrastinate's own schema
manager (``ensure_schema``, under an advisory lock so several workers starting together create
them once), and are never part of xgate's Alembic chain. SQLite has no job engine: asking for
one is a configuration error that says to run ``xgate sync`` instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
from procrastinate.exceptions import ConnectorException
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from gateway.errors import ConfigurationError
from gateway.settings import Settings
from gateway.store.db import normalise_url

log = logging.getLogger("xgate.jobs")
#: any constant works; it only has to differ from other advisory locks in the database
SCHEMA_LOCK = 0x78676174_6A6F6273


def conninfo(settings: Settings) -> str:
    """A libpq connection string for ``database_url`` (schema through ``search_path``)."""
    url = normalise_url(settings.database_url)
    if not url.startswith("postgresql"):
        raise ConfigurationError(
            "jobs and workers need PostgreSQL (database_url is "
            f"{make_url(url).get_backend_name()}); on SQLite run `xgate sync` instead"
        )
    parsed = make_url(url)
    params: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    if settings.database_schema:
        params["options"] = f"-c search_path={settings.database_schema}"
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def make_app(settings: Settings, *, schedules: bool = True) -> procrastinate.App:
    """A procrastinate ``App`` bound to this database, with xgate's tasks registered (and
    the ``[schedule]`` as periodic tasks unless ``schedules`` is false)."""
    from gateway.jobs.tasks import register

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings), min_size=1, max_size=max(4, settings.worker.concurrency + 2)
    )
    app = procrastinate.App(connector=connector, periodic_defaults={"max_delay": 600})
    register(app, settings, schedules=schedules)
    return app


async def ensure_schema(app: procrastinate.App) -> bool:
    """Create procrastinate's tables if this schema has none; True when it created them."""
    connector = app.connector
    assert isinstance(connector, procrastinate.PsycopgConnector)
    async with connector.pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cur.fetchone()
        if row is not None and row[0]:
            return False
        await conn.execute(app.schema_manager.get_schema())  # type: ignore[arg-type]
    log.info("created procrastinate's tables")
    return True


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings, *, schedules: bool = True
) -> AsyncIterator[procrastinate.App]:
    """The app, opened, with its tables present."""
    app = make_app(settings, schedules=schedules)
    async with app.open_async():
        await ensure_schema(app)
        yield app


async def requeue_stalled(app: procrastinate.App, stalled_after: float) -> list[int]:
    """Put back to ``todo`` every job whose worker stopped sending heartbeats (killed, lost).

    Harmless even if that worker were still running: the job body takes the stream's
    advisory lock, so a second copy waits its turn instead of running alongside.
    """
    jobs = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    ids = []
    for job in jobs:
        assert job.id is not None
        try:
            await app.job_manager.retry_job_by_id_async(job.id, retry_at=dt.datetime.now(dt.UTC))
        except ConnectorException:  # another worker requeued it a moment ago
            continue
        ids.append(job.id)
    if ids:
        log.warning("requeued %d job(s) of stalled workers: %s", len(ids), ids)
    return ids


async def prune_jobs(app: procrastinate.App, keep_days: float) -> None:
    """Delete jobs that succeeded or were cancelled more than ``keep_days`` ago; failed ones
    stay until someone retries or cancels them (they are what ``xgate jobs list`` is for)."""
    await app.job_manager.delete_old_jobs(
        nb_hours=int(keep_days * 24), include_failed=False, include_cancelled=True
    )
