"""The weekly progress report to the continuing-education college.

For one ISO week (Monday to Sunday, Asia/Shanghai): registrations submitted and withdrawn,
exams sat, pass rate, certificates issued and revoked, credits converted and reversed, fees
charged and waived; each for the week, the previous week and the school year up to the end of
the week, overall and per organization, certificate and department/major; the weekly trend of
the school year; coverage by major; and what needs attention now (failed syncs, quarantined
records, unsettled registrations). A week with no activity is reported as such (``quiet``).

Everything is summed from ``facts.daily_facts`` (SQL aggregates per day) and counted in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.amounts import percent
from gateway.masking import mask_text
from gateway.models import BEIJING
from gateway.reports.coverage import CoverageLine, coverage_report, without_jit
from gateway.reports.facts import CREDITS, DIMENSIONS, METRICS, MONEY, Fact, daily_facts
from gateway.reports.period import (
    Week,
    school_year_label,
    school_year_start,
    week_of,
    weeks_between,
)
from gateway.store import tables as t

UNSETTLED = ("pending", "sent", "unknown")
FAILURES_LISTED = 20


def _zeros() -> dict[str, Decimal]:
    return {m: Decimal("0.00") if m in MONEY | CREDITS else Decimal(0) for m in METRICS}


@dataclass
class Figures:
    """The metrics of one period (and scope): counts, credits and money as ``Decimal``."""

    values: dict[str, Decimal] = field(default_factory=lambda: _zeros())

    def __getitem__(self, metric: str) -> Decimal:
        return self.values[metric]

    def add(self, fact: Fact) -> None:
        self.values[fact.metric] += fact.amount

    @property
    def pass_rate(self) -> Decimal | None:
        """Passed in percent of those who sat (one decimal); None when nobody sat."""
        return percent(int(self["passed"]), int(self["sat"]))

    @property
    def quiet(self) -> bool:
        return not any(self.values.values())


@dataclass
class Breakdown:
    """One organization, certificate or department/major: week, previous week, school year."""

    key: tuple[str, ...]
    week: Figures = field(default_factory=Figures)
    previous: Figures = field(default_factory=Figures)
    year: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class FailedStream:
    organization: str
    stream: str
    started_at: datetime
    error: str


@dataclass
class Attention:
    failed_syncs: int = 0
    failures: list[FailedStream] = field(default_factory=list)
    quarantined_week: int = 0
    quarantined_total: int = 0
    unsettled: dict[str, int] = field(default_factory=dict)

    @property
    def unsettled_total(self) -> int:
        return sum(self.unsettled.values())


@dataclass
class WeeklyReport:
    college: str
    week: Week
    school_year: str
    generated_at: datetime
    this_week: Figures
    previous_week: Figures
    year_to_date: Figures
    by_organization: list[Breakdown]
    by_certificate: list[Breakdown]
    by_major: list[Breakdown]
    trend: list[tuple[Week, Figures]]
    coverage_by_major: list[CoverageLine]
    attention: Attention

    @property
    def quiet(self) -> bool:
        """No activity at all in the week."""
        return self.this_week.quiet


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), BEIJING).astimezone(UTC)


async def weekly_report(
    conn: AsyncConnection, week: Week, *, college: str = "", now: datetime | None = None
) -> WeeklyReport:
    await without_jit(conn)
    year_start = school_year_start(week.sunday)
    previous = week.previous()
    first_day = min(year_start, previous.monday)
    facts = await daily_facts(conn, _utc(first_day), week.end)
    totals = {"week": Figures(), "previous": Figures(), "year": Figures()}
    by_week: dict[Week, Figures] = defaultdict(Figures)
    for fact in facts:
        for name in _periods(fact.day, week, previous, year_start):
            totals[name].add(fact)
        if fact.day >= year_start:
            by_week[week_of(fact.day)].add(fact)
    coverage = await coverage_report(conn, list_students=False, now=now)
    return WeeklyReport(
        college=college,
        week=week,
        school_year=school_year_label(week.sunday),
        generated_at=now or datetime.now(UTC),
        this_week=totals["week"],
        previous_week=totals["previous"],
        year_to_date=totals["year"],
        by_organization=_breakdown(facts, ("organization",), week, previous, year_start),
        by_certificate=_breakdown(
            facts, ("organization", "certificate"), week, previous, year_start
        ),
        by_major=_breakdown(facts, ("department", "major"), week, previous, year_start),
        trend=[(w, by_week.get(w, Figures())) for w in weeks_between(year_start, week)],
        coverage_by_major=coverage.majors,
        attention=await attention(conn, week),
    )


def _periods(day: date, week: Week, previous: Week, year_start: date) -> Iterable[str]:
    if week.monday <= day <= week.sunday:
        yield "week"
    if previous.monday <= day <= previous.sunday:
        yield "previous"
    if year_start <= day <= week.sunday:
        yield "year"


def _breakdown(
    facts: Iterable[Fact], dims: tuple[str, ...], week: Week, previous: Week, year_start: date
) -> list[Breakdown]:
    assert all(d in DIMENSIONS for d in dims)
    groups: dict[tuple[str, ...], Breakdown] = {}
    for fact in facts:
        key = tuple(getattr(fact, d) for d in dims)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Breakdown(key)
        for name in _periods(fact.day, week, previous, year_start):
            getattr(group, name).add(fact)
    return [
        groups[k]
        for k in sorted(groups)
        if not (groups[k].week.quiet and groups[k].previous.quiet and groups[k].year.quiet)
    ]


async def attention(conn: AsyncConnection, week: Week) -> Attention:
    """What staff should look at now: failed sync streams of the week, quarantined records,
    registrations whose outcome is not settled."""
    runs, streams, q, r = t.sync_runs, t.sync_run_streams, t.quarantine, t.registrations
    out = Attention()
    failed = (
        select(streams.c.organization, streams.c.stream, runs.c.started_at, streams.c.error)
        .join(runs, runs.c.id == streams.c.run_id)
        .where(
            streams.c.status == "failed",
            runs.c.started_at >= week.start,
            runs.c.started_at < week.end,
        )
        .order_by(runs.c.started_at.desc(), streams.c.id.desc())
    )
    rows = (await conn.execute(failed)).all()
    out.failed_syncs = len(rows)
    out.failures = [
        FailedStream(row[0], row[1], row[2], mask_text(row[3] or "")[:300])
        for row in rows[:FAILURES_LISTED]
    ]
    in_week = (q.c.created_at >= week.start) & (q.c.created_at < week.end)
    out.quarantined_week = int(
        (await conn.execute(select(func.count()).select_from(q).where(in_week))).scalar_one()
    )
    out.quarantined_total = int(
        (await conn.execute(select(func.count()).select_from(q))).scalar_one()
    )
    unsettled = select(r.c.status, func.count()).where(r.c.status.in_(UNSETTLED))
    for status, n in await conn.execute(unsettled.group_by(r.c.status)):
        out.unsettled[str(status)] = int(n)
    return out
