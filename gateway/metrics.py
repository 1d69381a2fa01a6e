"""``/metrics`` for Prometheus: what this process did, and what the database says is waiting.

Invariant: every number is either counted by this process (HTTP requests per organization
and outcome, retries, breaker state, jobs run) or read from the database at scrape time (sync
lag per stream, outbox pending and unknown, quarantine size, the job queue), never estimated
and never remembered across processes. Labels carry organization, stream, queue and task
names only: nothing personal can reach a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from gateway.runtime import Gateway
from gateway.store import tables as t

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOBS = Counter("xgate_jobs_total", "Jobs this worker ran, by task and outcome", ["task", "outcome"])
JOB_SECONDS = Histogram(
    "xgate_job_seconds",
    "How long this worker's jobs ran",
    ["task"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200),
)
BREAKER = {"closed": 0, "half-open": 1, "open": 2}


def record_job(task: str, outcome: str, seconds: float) -> None:
    JOBS.labels(task=task, outcome=outcome).inc()
    JOB_SECONDS.labels(task=task).observe(seconds)


class _Families(Collector):
    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        yield from self.families


def client_families(gw: Gateway) -> list[Any]:
    """Request counters and breaker state of every organization this process has used."""
    requests = CounterMetricFamily(
        "xgate_http_requests",
        "Requests to organizations, by outcome (after retries)",
        labels=["organization", "outcome"],
    )
    retries = CounterMetricFamily(
        "xgate_http_retries", "Extra attempts the HTTP layer made", labels=["organization"]
    )
    breaker = GaugeMetricFamily(
        "xgate_breaker_state",
        "Circuit breaker per organization: 0 closed, 1 half-open, 2 open",
        labels=["organization"],
    )
    for name, org in sorted(gw._orgs.items()):
        stats = org.client.stats
        requests.add_metric([name, "ok"], stats.requests - stats.failures)
        requests.add_metric([name, "failed"], stats.failures)
        retries.add_metric([name], stats.retries)
        breaker.add_metric([name], BREAKER.get(str(org.client.breaker.state), 0))
    return [requests, retries, breaker]


async def database_families(gw: Gateway, now: datetime | None = None) -> list[Any]:
    """Sync lag per stream, outbox by status, quarantine size, and the job queue."""
    now = now or datetime.now(UTC)
    lag = GaugeMetricFamily(
        "xgate_sync_lag_seconds",
        "Seconds since the stream's last committed page",
        labels=["organization", "stream"],
    )
    outbox = GaugeMetricFamily(
        "xgate_outbox_entries", "Registrations not settled yet, by status", labels=["status"]
    )
    quarantine = GaugeMetricFamily("xgate_quarantine_size", "Records held in quarantine")
    reg = t.registrations.c
    async with gw.db.connect() as conn:
        for row in await conn.execute(select(t.sync_cursors)):
            updated = (
                row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
            )
            lag.add_metric([row.organization, row.stream], (now - updated).total_seconds())
        counts: dict[str, int] = dict(
            (
                await conn.execute(
                    select(reg.status, func.count())
                    .where(reg.status.in_(("pending", "sent", "unknown")))
                    .group_by(reg.status)
                )
            ).all()
        )
        for status in ("pending", "sent", "unknown"):
            outbox.add_metric([status], counts.get(status, 0))
        size = (await conn.execute(select(func.count()).select_from(t.quarantine))).scalar_one()
        quarantine.add_metric([], size)
        families = [lag, outbox, quarantine]
        if not gw.db.is_sqlite:
            families += await _queue_families(conn)
    return families


async def _queue_families(conn: Any) -> list[Any]:
    depth = GaugeMetricFamily(
        "xgate_job_queue",
        "Jobs in procrastinate's table, by queue and status",
        labels=["queue", "status"],
    )
    present = (await conn.execute(text("SELECT to_regclass('procrastinate_jobs')"))).scalar()
    if present is None:
        return [depth]
    rows = await conn.execute(
        text(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
            "GROUP BY queue_name, status"
        )
    )
    for queue, status, count in rows:
        depth.add_metric([queue, status], count)
    return [depth]


async def render(gw: Gateway) -> bytes:
    """The whole exposition: this process's counters, then the database's gauges."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Families(client_families(gw) + await database_families(gw)))
    return generate_latest(REGISTRY) + generate_latest(scraped)
