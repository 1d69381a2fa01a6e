"""Daily facts: the SQL aggregates every period report is summed from.

Each query groups one kind of event by its Beijing date and by organization, certificate,
department and major, and returns sums; a ``Fact`` is one such group and metric. Weekly
figures, the previous week, school-year totals and the weekly trend are sums of facts over
days, so all of them come from the same few aggregates.

A person's department and major come from the roster (by the keyed ID hash) and, for people
not on the roster, from what their candidate list said; else they are "".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.amounts import CENT
from gateway.reports.period import as_date, local_date, local_day
from gateway.store import tables as t

#: Every metric a period report carries, in report order.
METRICS = (
    "registrations",
    "withdrawn",
    "sat",
    "absent",
    "passed",
    "certificates_issued",
    "certificates_revoked",
    "credits_converted",
    "credits_reversed",
    "fees_charged",
    "fees_waived",
    "waived_students",
)
MONEY = frozenset({"fees_charged", "fees_waived"})
CREDITS = frozenset({"credits_converted", "credits_reversed"})
#: registrations that are refused or withdrawn cost nothing
NOT_CHARGED = ("rejected", "cancelled")
DIMENSIONS = ("organization", "certificate", "department", "major")
#: SQL text, not a bound parameter: PostgreSQL matches GROUP BY expressions textually
_EMPTY: Any = literal_column("''")


@dataclass(frozen=True, slots=True)
class Fact:
    day: date
    organization: str
    certificate: str
    department: str
    major: str
    metric: str
    amount: Decimal


def _person(id_hash: Any, candidate: Any = None) -> tuple[Any, Any, list[tuple[Any, Any]]]:
    """(department, major, outer joins) for a person known by ``id_hash``; ``candidate`` is
    their candidates row when the query has joined it already (no second look-up)."""
    rs = t.roster_students.alias("rs")
    joins: list[tuple[Any, Any]] = [(rs, rs.c.id_hash == id_hash)]
    if candidate is None:
        candidate = t.candidates.alias("cd")
        joins.append((candidate, candidate.c.id_hash == id_hash))
    department = func.coalesce(rs.c.department, candidate.c.department, _EMPTY)
    major = func.coalesce(rs.c.major, candidate.c.major, _EMPTY)
    return department, major, joins


def _joined(base: Any, joins: Iterable[tuple[Any, Any]]) -> Any:
    for table, on in joins:
        base = base.outerjoin(table, on)
    return base


def _sum_if(condition: Any, value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


async def _collect(
    conn: AsyncConnection, query: Any, metrics: tuple[str, ...], day_is_date: bool = False
) -> list[Fact]:
    out: list[Fact] = []
    for row in await conn.execute(query):
        day = row[0] if day_is_date else as_date(row[0])
        keys = (str(row[1] or ""), str(row[2] or ""), str(row[3] or ""), str(row[4] or ""))
        for index, metric in enumerate(metrics, start=5):
            amount = Decimal(str(row[index] or 0))
            if metric in MONEY or metric in CREDITS:
                amount = amount.quantize(CENT)
            if amount:
                out.append(Fact(day, *keys, metric, amount))
    return out


async def daily_facts(conn: AsyncConnection, start: datetime, end: datetime) -> list[Fact]:
    """Every fact from ``start`` (inclusive) to ``end`` (exclusive), both aware UTC instants
    at Beijing midnight."""
    dialect = conn.dialect.name
    facts: list[Fact] = []
    for build in (_registrations, _withdrawn, _scores, _revoked, _credits):
        query, metrics = build(dialect, start, end)
        facts += await _collect(conn, query, metrics)
    query, metrics = _issued(start, end)
    facts += await _collect(conn, query, metrics, day_is_date=True)
    return facts


def _registrations(dialect: str, start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    r, cd, ep = t.registrations, t.candidates.alias("who"), t.exam_plans
    department, major, joins = _person(cd.c.id_hash, cd)
    day = local_day(r.c.created_at, dialect)
    charged = r.c.status.notin_(NOT_CHARGED)
    fee = func.coalesce(r.c.fee, 0)
    base = r.join(cd, cd.c.id == r.c.candidate_id).outerjoin(
        ep, and_(ep.c.organization == r.c.organization, ep.c.code == r.c.plan_code)
    )
    keys = (day, r.c.organization, ep.c.certificate_code, department, major)
    query = (
        select(
            *keys,
            func.count(),
            _sum_if(and_(charged, r.c.fee_waived.is_(False)), fee),
            _sum_if(and_(charged, r.c.fee_waived.is_(True)), fee),
            _sum_if(and_(charged, r.c.fee_waived.is_(True))),
        )
        .select_from(_joined(base, joins))
        .where(r.c.created_at >= start, r.c.created_at < end)
        .group_by(*keys)
    )
    return query, ("registrations", "fees_charged", "fees_waived", "waived_students")


def _withdrawn(dialect: str, start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    e, r, cd, ep = t.registration_events, t.registrations, t.candidates.alias("who"), t.exam_plans
    department, major, joins = _person(cd.c.id_hash, cd)
    day = local_day(e.c.at, dialect)
    base = (
        e.join(r, r.c.id == e.c.registration_id)
        .join(cd, cd.c.id == r.c.candidate_id)
        .outerjoin(ep, and_(ep.c.organization == r.c.organization, ep.c.code == r.c.plan_code))
    )
    keys = (day, r.c.organization, ep.c.certificate_code, department, major)
    query = (
        select(*keys, func.count())
        .select_from(_joined(base, joins))
        .where(e.c.status == "cancelled", e.c.at >= start, e.c.at < end)
        .group_by(*keys)
    )
    return query, ("withdrawn",)


def _scores(dialect: str, start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    """A score counts in the period its first revision was recorded (when the result reached
    the college), with its current values (corrections included)."""
    sc = t.scores
    department, major, joins = _person(sc.c.id_hash)
    day = local_day(sc.c.recorded_at, dialect)
    keys = (day, sc.c.organization, sc.c.certificate_code, department, major)
    query = (
        select(
            *keys,
            _sum_if(sc.c.absent.is_(False)),
            _sum_if(sc.c.absent.is_(True)),
            _sum_if(and_(sc.c.absent.is_(False), sc.c.rule_passed.is_(True))),
        )
        .select_from(_joined(sc, joins))
        .where(sc.c.recorded_at >= start, sc.c.recorded_at < end)
        .group_by(*keys)
    )
    return query, ("sat", "absent", "passed")


def _issued(start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    """Certificates by the date the organization issued them (a date, already local)."""
    c = t.certificates
    department, major, joins = _person(c.c.id_hash)
    keys = (c.c.issued_on, c.c.organization, c.c.certificate_code, department, major)
    first, last = local_date(start), local_date(end)
    query = (
        select(*keys, func.count())
        .select_from(_joined(c, joins))
        .where(c.c.issued_on >= first, c.c.issued_on < last)
        .group_by(*keys)
    )
    return query, ("certificates_issued",)


def _revoked(dialect: str, start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    e, c = t.certificate_events, t.certificates
    department, major, joins = _person(c.c.id_hash)
    day = local_day(e.c.at, dialect)
    keys = (day, c.c.organization, c.c.certificate_code, department, major)
    query = (
        select(*keys, func.count())
        .select_from(_joined(e.join(c, c.c.id == e.c.certificate_id), joins))
        .where(e.c.status == "revoked", e.c.at >= start, e.c.at < end)
        .group_by(*keys)
    )
    return query, ("certificates_revoked",)


def _credits(dialect: str, start: datetime, end: datetime) -> tuple[Any, tuple[str, ...]]:
    """Conversions add credit; reversals (negative entries) are reported as positive amounts."""
    led, acc, c = t.credit_ledger, t.learning_accounts, t.certificates
    department, major, joins = _person(acc.c.id_hash)
    day = local_day(led.c.recorded_at, dialect)
    base = led.join(acc, acc.c.id == led.c.account_id).outerjoin(
        c, and_(c.c.organization == led.c.source_org, c.c.number == led.c.source_ref)
    )
    keys = (day, led.c.source_org, c.c.certificate_code, department, major)
    query = (
        select(
            *keys,
            _sum_if(led.c.kind == "conversion", led.c.credits),
            _sum_if(led.c.kind == "reversal", -led.c.credits),
        )
        .select_from(_joined(base, joins))
        .where(
            led.c.kind.in_(("conversion", "reversal")),
            led.c.recorded_at >= start,
            led.c.recorded_at < end,
        )
        .group_by(*keys)
    )
    return query, ("credits_converted", "credits_reversed")
